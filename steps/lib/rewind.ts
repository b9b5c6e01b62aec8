import { Duplex, PassThrough } from 'node:stream';
import * as privileged from '../../src/remote/commands.js';
import { runningAddress } from '../../src/facts/live.js';
import type { Node } from '../contract.js';
import { lineSplitter } from './basebackup-progress.js';

/**
 * pg_rewind on the standby (the target), with the primary as its source server. pg_rewind
 * needs an ordinary (not a replication) connection that may run pg_ls_dir, pg_stat_file and
 * pg_read_binary_file: a superuser, or from PostgreSQL 11 a role granted those functions.
 * It gets the primary's superuser over the same Unix-socket relay the wizard's own SQL uses
 * (peer authentication as the primary's server user), carried through both SSH connections:
 * no password exists for it, none travels, and neither pg_hba.conf nor the roles on the primary
 * change for it. A role with the grants would need a pg_hba.conf line for a database
 * connection from the standby and a password for it on the standby, for every major the same
 * power to read every file of the primary's data directory as the replication role already
 * has through BASE_BACKUP, and it cannot exist on PostgreSQL 10. The relay on the standby
 * accepts only pg_rewind's own connection (see rewindRelayScript).
 */

export interface RewindRun {
  ok: boolean;
  /** pg_rewind's lines without the progress lines, as it wrote them. */
  lines: string[];
  /** pg_rewind's own error, e.g. `could not find common ancestor of the source and target cluster's timelines`. */
  error?: string;
  /** "need to copy 52 MB (total source directory size is 77 MB)", when pg_rewind got that far. */
  toCopy?: string;
  /** kB pg_rewind reported copied (its last progress line). */
  copiedKb?: number;
}

/** pg_rewind's message when the target runs: it reached every check that does not need a stopped target. */
export const targetRunning = 'target server must be shut down cleanly';
/** pg_rewind's message when the target does not log hint bits: no rewind is possible. */
export const hintsMissing = 'target server needs to use either data checksums or "wal_log_hints = on"';

const progressPattern = /^\s*(\d+)\/(\d+) kB \((\d+)%\) copied/;
// 12–14 say "fatal:", 15+ "error:", 10–11 print the bare message.
const errorPrefix = /^pg_rewind: (?:error|fatal): /;

/** Where pg_rewind is looked for on the standby, for the message when none is there. */
const pgRewindPlaces = (node: Node) => [node.cluster.binDir, `/usr/lib/postgresql/${node.cluster.major}/bin`, `/usr/pgsql-${node.cluster.major}/bin`];

/** The standby's pg_rewind of its own major, or why there is none (a hand-installed server often ships without it). */
export async function findPgRewind(node: Node): Promise<{ path: string } | { missing: string }> {
  const found = await node.host.exec(privileged.findPgRewind(node.cluster.binDir, node.cluster.major), { as: 'postgres' });
  const path = found.stdout.trim();
  if (found.code === 0 && path) return { path };
  const { major } = node.cluster;
  return {
    missing:
      `no pg_rewind of PostgreSQL ${major} on the standby (looked in ${pgRewindPlaces(node).join(', ')}; pg_rewind works only on its own major's data directory): ` +
      `it comes with the server package (postgresql-${major} on Debian/Ubuntu, postgresql${major}-server from PGDG) or a source build's bin directory`,
  };
}

/** Where pg_rewind gets the standby's WAL segments that its pg_wal no longer holds. */
export interface TargetWal {
  /** --restore-target-wal (and --config-file), or none. */
  args: string[];
  /** What the plan says about it. */
  says: string;
}

const fromPrimary = 'WAL segments the standby no longer has are copied from the primary\'s pg_wal (up to the fork both wrote the same WAL)';
/** Without an archive: the caller copies what pg_rewind misses (dryRunFetchingWal in steps/rewind-standby.ts). */
export const walFromPrimary: TargetWal = { args: [], says: fromPrimary };

/**
 * pg_rewind reads the standby's WAL back to the last checkpoint before the fork; a segment the
 * standby has recycled since is taken from its WAL archive with --restore-target-wal (13+),
 * which runs the standby's restore_command (`restore`: as doctor read it with the standby's
 * other settings). pg_rewind reads that setting with `postgres -C` from the postgresql.conf
 * inside the data directory, or from --config-file (15+): where the configuration lives
 * elsewhere (Debian), 13 and 14 cannot, and the segments are copied from the primary's pg_wal
 * as without an archive. Before 13 restore_command is not read at all.
 */
export function targetWal(standby: Node, restore: string | undefined): TargetWal {
  const { cluster } = standby;
  if (cluster.major < 13 || !restore) return walFromPrimary;
  const configFile = cluster.configDir && `${cluster.configDir}/postgresql.conf`;
  const fromArchive = `WAL segments the standby no longer has are restored from its archive (--restore-target-wal runs its restore_command = '${restore}')`;
  if (!configFile) return { args: ['--restore-target-wal'], says: fromArchive };
  if (cluster.major >= 15) return { args: ['--restore-target-wal', `--config-file=${configFile}`], says: `${fromArchive}, read from ${configFile} (--config-file)` };
  return {
    args: [],
    says: `${fromPrimary}, not restored from the archive: pg_rewind ${cluster.major} reads restore_command only from a postgresql.conf inside the data directory (--config-file comes with 15), and this one is ${configFile}`,
  };
}

/**
 * pg_rewind's arguments (the relay adds --source-server). From 13 pg_rewind would run a
 * target that was not shut down cleanly in single-user mode itself, which fails where the
 * configuration lives outside the data directory (Debian): the wizard stops it cleanly first.
 */
export function rewindArgs(standby: Node, pgRewind: string, dryRun: boolean, wal: TargetWal): string[] {
  const { cluster } = standby;
  return [pgRewind, `--target-pgdata=${cluster.dataDirectory}`, '--progress', ...(cluster.major >= 13 ? ['--no-ensure-shutdown'] : []), ...wal.args, ...(dryRun ? ['--dry-run'] : [])];
}

/** The argv the standby runs, as the plan shows it (the --source-server the relay adds is named in the summary). */
export const rewindArgv = (primary: Node, standby: Node, pgRewind: string, dryRun: boolean, wal: TargetWal) =>
  privileged.rewindThroughRelay(primary.cluster.port, primary.host.serverUser, rewindArgs(standby, pgRewind, dryRun, wal));

export function parseRewindOutput(code: number, stderr: string): RewindRun {
  const lines: string[] = [];
  let copiedKb: number | undefined;
  const splitter = lineSplitter((line) => {
    const progress = progressPattern.exec(line);
    if (progress) copiedKb = Number(progress[1]);
    else lines.push(line);
  });
  splitter.push(stderr);
  splitter.end();
  const errors = lines.filter((line) => errorPrefix.test(line)).map((line) => line.replace(errorPrefix, ''));
  const toCopy = lines.map((line) => /need to copy .*/.exec(line)?.[0]).find(Boolean);
  // 10–11 print their progress messages bare too: the error is the last line before "Failure, exiting".
  const bare = lines.filter((line) => !line.startsWith('pg_rewind: ') && !/^Failure, exiting$/.test(line)).at(-1);
  const error = code === 0 ? undefined : (errors.join('; ') || bare || `pg_rewind exited with code ${code}`);
  return { ok: code === 0, lines, error, toCopy, copiedKb };
}

/** Two commands on the two hosts joined by the workstation: each one's stdout is the other's stdin. */
async function joined<T>(run: (standbySide: Duplex, primarySide: Duplex) => Promise<T>): Promise<T> {
  const toPrimary = new PassThrough();
  const toStandby = new PassThrough();
  return run(Duplex.from({ readable: toStandby, writable: toPrimary }), Duplex.from({ readable: toPrimary, writable: toStandby }));
}

// Without restore_command pg_rewind cannot open it; with it, the archive did not have it either.
const missingSegment = /could not open file "[^"]*\/pg_wal\/([0-9A-F]{24})": No such file or directory|could not restore file "([0-9A-F]{24})" from archive/;

/** The WAL segment pg_rewind found missing in the standby's pg_wal (and its archive), if that is why it stopped. */
export const missingWalSegment = (run: RewindRun) => (run.ok ? undefined : run.lines.map((line) => missingSegment.exec(line)?.slice(1).find(Boolean)).find(Boolean));

/**
 * Copies a WAL segment from the primary's pg_wal into the standby's, through the workstation:
 * pg_rewind reads the standby's WAL from the last checkpoint before the fork, which a standby
 * promoted soon after a restartpoint may have removed; before the fork both servers wrote the
 * same WAL. False when the primary no longer has it either (or the copy came out short).
 */
export async function copyWalSegment(primary: Node, standby: Node, name: string): Promise<boolean> {
  const from = `${primary.cluster.dataDirectory}/pg_wal/${name}`;
  const to = `${standby.cluster.dataDirectory}/pg_wal/${name}`;
  const size = async (node: Node, path: string) => {
    const result = await node.host.exec(privileged.statPath('%s', path), { as: 'postgres' });
    return result.code === 0 ? result.stdout.trim() : undefined;
  };
  const expected = await size(primary, from);
  if (expected === undefined) return false;
  await joined((standbySide, primarySide) =>
    Promise.all([
      standby.host.exec(privileged.writeFile(to, '600', ''), { as: 'postgres', stream: standbySide }),
      primary.host.exec(privileged.readFile(from), { as: 'postgres', stream: primarySide }),
    ]),
  );
  return (await size(standby, to)) === expected;
}

/**
 * Runs pg_rewind on the standby against the primary: two commands joined by the workstation,
 * the standby's relay (pg_rewind's connection) and the primary's socket relay (its server).
 * `pgRewind`: the path findPgRewind gave the caller already (looked up here otherwise).
 */
export async function runRewind(
  primary: Node,
  standby: Node,
  options: { dryRun: boolean; pgRewind?: string; wal?: TargetWal; onProgress?: (doneKb: number, totalKb: number, percent: number) => void; signal?: AbortSignal },
): Promise<RewindRun> {
  const address = await runningAddress(primary);
  if (!address) return { ok: false, lines: [], error: `the primary's cluster ${primary.cluster.id} is not running: pg_rewind needs it as its source` };
  const pgRewind = options.pgRewind !== undefined ? { path: options.pgRewind } : await findPgRewind(standby);
  if ('missing' in pgRewind) return { ok: false, lines: [], error: pgRewind.missing };
  const progress = lineSplitter((line) => {
    const match = progressPattern.exec(line);
    if (match) options.onProgress?.(Number(match[1]), Number(match[2]), Number(match[3]));
  });
  const [rewound] = await joined((standbySide, primarySide) =>
    Promise.all([
      standby.host.exec(rewindArgv(primary, standby, pgRewind.path, options.dryRun, options.wal ?? walFromPrimary), { as: 'postgres', stream: standbySide, onStderr: (chunk) => progress.push(chunk), signal: options.signal }),
      primary.host.exec(privileged.socketRelay(`${address.socketDir}/.s.PGSQL.${address.port}`), { as: 'postgres', stream: primarySide }),
    ]),
  );
  return parseRewindOutput(rewound.code, rewound.stderr);
}
