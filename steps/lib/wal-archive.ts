import { randomBytes } from 'node:crypto';
import { WizardError } from '../../src/errors.js';
import * as privileged from '../../src/remote/commands.js';
import { shellQuote } from '../../src/remote/quote.js';
import { where, type Node } from '../contract.js';

/**
 * The commands PostgreSQL runs for a WAL archive in a directory. Each is a constant script the
 * server's shell runs with the directory, %p and %f as its arguments: the directory is only
 * ever an argument, shell-quoted, with % doubled so PostgreSQL leaves it alone.
 */

/**
 * What the manual's "Setting Up WAL Archiving" asks of an archive_command: a segment already
 * archived with the same content succeeds (a crash between the copy and the server's
 * acknowledgement archives it again), one with other content fails, and a new one is written
 * under a temporary name (not a WAL file name, so pg_archivecleanup and restore_command never
 * see it), fsynced, renamed into place, and the rename fsynced. `sync FILE` needs coreutils
 * 8.24 (older ones sync everything, which is no weaker). No single quote and no % inside.
 */
const archiveScript =
  'test -f "$1/$3" && { cmp -s "$2" "$1/$3" && exit 0; echo "$1/$3 is archived already, with other content" >&2; exit 1; }; ' +
  'cp "$2" "$1/.$3.tmp" && sync "$1/.$3.tmp" && mv "$1/.$3.tmp" "$1/$3" && sync "$1"';

/** A shell word for a directory inside a PostgreSQL command setting. */
const directoryWord = (dir: string) => shellQuote(dir).replace(/%/g, '%%');

/** archive_command for an archive directory on the primary. */
export function archiveCommand(dir: string): string {
  return `sh -c '${archiveScript}' archive-wal ${directoryWord(dir)} %p %f`;
}

/**
 * PostgreSQL up to 15 expands archive_command into a buffer of 1024 bytes (MAXPGPATH) and
 * silently cuts what does not fit; %p and %f expand to at most 31 and 24 characters here.
 */
export const archiveCommandFits = (dir: string) => archiveCommand(dir).length - 4 + 31 + 24 < 1024;

/**
 * pg_basebackup's label for this wizard's clones: the backup history file a clone leaves in the
 * archive carries it, so that doctor's archive cleanup does not keep WAL for a base backup
 * nobody keeps (the clone became the standby).
 */
export const cloneLabel = 'pgrepl-wizard clone';

/** restore_command for a standby that reads the same archive at `dir`. */
export function restoreCommand(dir: string): string {
  return `cp ${directoryWord(dir)}/%f %p`;
}

/** archive_cleanup_command: the standby removes segments older than its last restartpoint needs. */
export function archiveCleanupCommand(archiveCleanup: string, dir: string): string {
  return `${directoryWord(archiveCleanup)} ${directoryWord(dir)} %r`;
}

/** The standby's settings for an archive it reads: settings from PostgreSQL 12, recovery.conf lines before. */
export const archiveSettingNames = ['restore_command', 'archive_cleanup_command'];

/** restore_command and archive_cleanup_command for a standby reading the archive at `dir`. */
export async function standbyArchiveSettings(standby: Node, dir: string): Promise<Record<string, string>> {
  const found = await standby.host.exec(privileged.findArchiveCleanup(standby.cluster.binDir), { as: 'postgres' });
  const archiveCleanup = found.stdout.trim().split('\n')[0];
  if (!archiveCleanup) {
    throw new WizardError(
      `no pg_archivecleanup on the standby (looked in ${standby.cluster.binDir}, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin and PATH) for archive_cleanup_command`,
      where(standby),
      'install the package that has it (postgresql-N on Debian/Ubuntu), or leave --standby-archive-dir out and clean the archive on the primary',
    );
  }
  return { restore_command: restoreCommand(dir), archive_cleanup_command: archiveCleanupCommand(archiveCleanup, dir) };
}

/** What proveSharedArchive does, for the plan. */
export const sharedArchiveProof = (primaryDir: string, standbyDir: string) =>
  `prove the standby reads the primary's archive: a probe file written into ${primaryDir} on the primary must be read in ${standbyDir} on the standby, as the server's OS user (then removed)`;

/**
 * The standby's restore_command is only worth writing when it reads the very directory the
 * primary archives into: a probe file with a random name and content written on one side must
 * be read, the same, on the other.
 */
export async function proveSharedArchive(primary: Node, standby: Node, primaryDir: string, standbyDir: string): Promise<void> {
  const token = randomBytes(12).toString('hex');
  const name = `.pgrepl-probe-${token}`;
  await primary.host.writeFile(`${primaryDir}/${name}`, token, { as: 'postgres', mode: '600' });
  try {
    const seen = await standby.host.readFile(`${standbyDir}/${name}`, 'postgres').catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (seen !== token) {
      throw new WizardError(
        `the standby does not read the primary's archive: a file written into ${primaryDir} on the primary is ${seen === null ? 'not there' : `not readable (${seen.split('\n')[0]})`} in ${standbyDir} on the standby`,
        where(standby),
        `mount the archive on the standby at ${standbyDir}, readable and writable by ${standby.host.serverUser} (the same uid as ${primary.host.serverUser} on the primary), or leave --standby-archive-dir out`,
      );
    }
  } finally {
    await primary.host.run(privileged.removeFile(`${primaryDir}/${name}`), { as: 'postgres' });
  }
}

/** Where the archive lives and what follows from it, for the plan. */
export function archivePlacementNote(archiveDir: string, standbyArchiveDir: string | undefined): string {
  if (standbyArchiveDir === undefined) {
    return (
      `WAL archive ${archiveDir} on the primary only: the standby cannot restore from it, so a standby that falls behind what the primary keeps in pg_wal ` +
      '(no slot, or a slot max_slot_wal_keep_size invalidated) must be cloned again; nothing removes segments from it by itself, so it grows until cleaned ' +
      '(doctor proposes the pg_archivecleanup command that keeps what every standby and slot still needs once it holds more than max_wal_size nobody needs). With --standby-archive-dir, an archive the standby mounts too, it restores from it and cleans it'
    );
  }
  return (
    `WAL archive ${archiveDir}, read by the standby at ${standbyArchiveDir}: the standby restores segments the primary no longer keeps from it (restore_command) ` +
    'and removes, at each restartpoint, the segments it no longer needs (archive_cleanup_command). With several standbys on one archive, each removes what it alone ' +
    'no longer needs, so a standby further behind may lose segments: keep archive_cleanup_command on one standby only, or none when the archive also serves base backups'
  );
}

/**
 * The archive directory an archive_command names: this wizard's (`… archive-wal DIR %p %f`) or
 * the runbook's (`… cp %p DIR/%f`), DIR a single shell word; undefined for any other command.
 */
export function archiveDirectoryOf(command: string): string | undefined {
  return directoryOfWord(/ archive-wal (\S.*) %p %f$/.exec(command)?.[1] ?? /\bcp %p (\S+)\/%f$/.exec(command)?.[1]);
}

/** The archive directory a restore_command reads: this wizard's and the runbook's (`cp DIR/%f %p`); undefined for any other command. */
export const restoreDirectoryOf = (command: string): string | undefined => directoryOfWord(/^cp (\S.*)\/%f %p$/.exec(command.trim())?.[1]);

function directoryOfWord(word: string | undefined): string | undefined {
  if (word === undefined) return undefined;
  // A bare word, or '…' pieces joined by \' (shellQuote's form); % doubled for PostgreSQL.
  const unquoted = /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : /^'(?:[^']|'\\'')*'$/.test(word) ? word.slice(1, -1).replace(/'\\''/g, "'") : undefined;
  return unquoted?.replace(/%%/g, '%');
}
