import { dirname } from 'node:path';
import { clientTool } from '../src/facts/clusters.js';
import { ConnectionLost, SudoRefusedMidRun, WizardError } from '../src/errors.js';
import { byHandLine, type Host } from '../src/remote/host.js';
import * as privileged from '../src/remote/commands.js';
import type { Privilege } from '../src/remote/commands.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from './contract.js';
import { lineSplitter, parseProgressLine, progressMeter } from './lib/basebackup-progress.js';
import { runningAddress, systemIdentifier } from '../src/facts/live.js';
import { sayingWhatIsLeft } from './lib/cut-short.js';
import { dataParent, passwordIn, passwordStored, runClonePrechecks, sideDirectory, size } from './lib/clone-prechecks.js';
import { timestampSuffix } from './lib/config-files.js';
import { directoryUser } from './lib/privilege.js';
import { upsertPassfileEntry } from './lib/passfile.js';
import { passfileParams, replicationProbeArgv } from '../src/facts/replication.js';
import { tlsEnvironment } from './lib/standby-config.js';
import { cloneLabel } from './lib/wal-archive.js';
import { errorLines, replicationFix } from '../src/catalog/replication-errors.js';
import { cloneFailure, primaryLogReasons } from '../src/catalog/clone-failures.js';
import { logSince, markLog, type LogMark } from '../src/facts/server-log.js';
import { controlServer, isRunning, serverControlCommand } from './lib/server-control.js';
import { keptTablespace, mappingOption, primaryTablespaces, tablespaceSide, type Tablespace } from './lib/tablespaces.js';

/**
 * Step 5: a fresh copy of the primary on the standby. pg_basebackup writes into a side
 * directory next to the data directory; only a complete copy is swapped in, so an
 * interrupted or failed clone leaves the standby's cluster exactly as it was.
 */

const stepId = 'clone-standby';

/** pg_basebackup as it runs on the standby, as the server's OS user, into the side directory. */
function basebackupArgv(ctx: StepContext, tablespaces: Tablespace[]) {
  const { settings } = ctx;
  const { cluster } = ctx.standby;
  return privileged.basebackup(clientTool(cluster, 'pg_basebackup'), settings.passfile, tlsEnvironment(settings.tls), [
    '-h', settings.primaryAddress,
    '-p', String(ctx.primary.cluster.port),
    '-U', settings.roleName,
    '-D', sideDirectory(cluster.dataDirectory),
    '-X', 'stream',
    '-S', settings.slotName,
    `--checkpoint=${settings.checkpoint}`,
    '-l', cloneLabel,
    '-P', '-v', '-w',
    ...tablespaces.map(mappingOption),
  ]);
}

const keptDirectory = (dataDirectory: string, suffix: string) => `${dataDirectory}.pgrepl-old-${suffix}`;

/** A complete copy in its side directory, to be moved to `target`; an old `target` goes to `kept`. */
interface Swap {
  side: string;
  target: string;
  kept: string;
}

/** Every copy at mode 0700 and whether its target exists, asked in one round trip before the first rename. */
async function readySwaps(host: Host, swaps: readonly Swap[]): Promise<boolean[]> {
  const lines = (await host.run(privileged.readySwaps(swaps), { as: 'postgres' })).split('\n');
  return swaps.map((_, index) => lines[index] === '1');
}

/** Moves the copy in, the old `target` (when `existed`) aside first; a failed second rename puts the old one back. */
async function swapIn(host: Host, as: Privilege, { side, target, kept }: Swap, existed: boolean): Promise<void> {
  if (existed) await host.run(privileged.movePath(target, kept), { as });
  try {
    await host.run(privileged.movePath(side, target), { as });
  } catch (error) {
    if (existed) await host.exec(privileged.movePath(kept, target), { as });
    throw error;
  }
}

function replaceAction(ctx: StepContext, tablespaces: Tablespace[]): PlannedAction {
  const dir = ctx.standby.cluster.dataDirectory;
  const spaces = tablespaces.map((t) => `${t.target} (into ${tablespaceSide(t.target)})`).join(', ');
  return {
    side: 'standby',
    summary:
      `Replace the standby's data directory ${dir}${spaces ? ` and its ${tablespaces.length} tablespaces ${spaces}` : ''} with a copy of the primary: pg_basebackup into ${sideDirectory(dir)}, ` +
      `then ${ctx.settings.keepOldData ? `keep the old ones as <path>.pgrepl-old-<time>` : 'delete the old ones'} and move the copy in`,
    command: basebackupArgv(ctx, tablespaces),
    destructive: 'replace-standby-data',
  };
}

/** The passfiles this run wrote, each host's: the server user's, mode 0600, as the write made them. */
const writtenThisRun = new WeakMap<Host, Set<string>>();

/** Replaces the standby's passfile with `content` (through stdin), owned by the server's OS user, mode 0600. */
export async function writePassfile(ctx: StepContext, content: string): Promise<void> {
  const { host } = ctx.standby;
  // 0600 and the server user's alone from the first byte, even over a world-readable file.
  await host.writeFile(ctx.settings.passfile, content, { as: 'postgres', secretOwner: host.serverUser });
  writtenThisRun.set(host, (writtenThisRun.get(host) ?? new Set()).add(`${host.serverUser}:${ctx.settings.passfile}`));
}

// libpq ignores a passfile that others can read; root only when another user owns it.
async function securePassfile(host: Host, passfile: string): Promise<void> {
  // Written by this run: owner and mode are already so.
  if (writtenThisRun.get(host)?.has(`${host.serverUser}:${passfile}`)) return;
  const owner = (await host.run(privileged.statPath('%U', passfile), { as: 'postgres' })).trim();
  if (owner !== host.serverUser) await host.run(privileged.giveToServerUser(host.serverUser, passfile), { as: 'root' });
  await host.run(privileged.setMode('0600', passfile), { as: 'postgres' });
}

/** The CA the standby verifies the primary's certificate with (sslrootcert), copied from the workstation. */
export async function storeRootCert(ctx: StepContext): Promise<void> {
  const { rootCert, rootCertPem } = ctx.settings.tls ?? {};
  if (!rootCert || rootCertPem === undefined) return;
  const { host } = ctx.standby;
  const current = await host.readFile(rootCert, 'postgres');
  if (current === rootCertPem) return;
  await host.run(privileged.makeServerDirectory(host.serverUser, dirname(rootCert)), { as: 'postgres' });
  await host.writeFile(rootCert, rootCertPem, { as: 'postgres', mode: '644' });
  ctx.recordChange({ side: 'standby', what: `${current === null ? 'copied' : 'replaced'} the CA certificate to ${rootCert} (sslrootcert)`, undo: current === null ? byHandLine(host, 'postgres', ['rm', '--', rootCert]) : undefined });
}

/**
 * The walreceiver's and pg_basebackup's password: one passfile line for this primary and role.
 * `known`: the passfile as the caller's check read it a moment ago, nothing having written it since.
 */
export async function storePassword(ctx: StepContext, known?: { current: string | null }): Promise<void> {
  const { settings } = ctx;
  const port = ctx.primary.cluster.port;
  const { current, stored } = known ? passwordIn(ctx, known.current) : await passwordStored(ctx);
  if (stored) {
    // Owner and mode are set even on an existing file.
    await securePassfile(ctx.standby.host, settings.passfile);
    return;
  }
  await writePassfile(ctx, upsertPassfileEntry(current ?? '', settings.primaryAddress, port, settings.roleName, settings.password));
  ctx.recordChange({
    side: 'standby',
    what: `${current === null ? 'created' : 'updated'} ${settings.passfile} with the password for ${settings.primaryAddress}:${port}:replication:${settings.roleName}`,
    undo: current === null ? byHandLine(ctx.standby.host, 'postgres', ['rm', '--', settings.passfile]) : `delete the line starting ${settings.primaryAddress}:${port}:replication:${settings.roleName}: in ${settings.passfile}`,
  });
}

const endProcessGroup = (host: Host, pgid: string) => host.run(privileged.endProcessGroup(pgid), { as: 'postgres' });

/**
 * pg_basebackup runs still writing into the side directory, left behind when an earlier run's
 * SSH connection dropped mid-clone (its WAL-streaming child outlives the parent and keeps
 * the slot busy).
 */
async function endOrphanedClones(ctx: StepContext): Promise<void> {
  const { host, cluster } = ctx.standby;
  const groups = (await host.run(privileged.orphanedClones(sideDirectory(cluster.dataDirectory)), { as: 'postgres' })).split(/\s+/).filter(Boolean);
  for (const pgid of groups) {
    ctx.note(`ending pg_basebackup (process group ${pgid}) left running by an interrupted earlier run`);
    await endProcessGroup(host, pgid);
  }
}

/** `primaryLog`: where the primary's log ended before the copy, for its reasons when the copy fails. */
async function runBasebackup(ctx: StepContext, tablespaces: Tablespace[], primaryLog: LogMark): Promise<void> {
  const { host } = ctx.standby;
  // The copy streams from the primary: when the primary's SSH connection is lost (network
  // down, host stopped), pg_basebackup would wait on it for as long as TCP does, so the
  // clone stops with that connection, within its stated bound.
  const primaryLost = ctx.primary.host.lossSignal;
  const stop = primaryLost ? AbortSignal.any([ctx.signal, primaryLost]) : ctx.signal;
  // exec only listens for an abort that happens while it runs.
  stop.throwIfAborted();
  const meter = progressMeter();
  const started = performance.now();
  let copiedKb = 0;
  const lines = lineSplitter((line) => {
    const progress = parseProgressLine(line);
    if (progress) {
      const { doneKb, totalKb, percent, tablespacesDone, tablespacesTotal } = progress;
      copiedKb = doneKb;
      ctx.progress({ stepId, doneKb, totalKb, percent, ...meter(doneKb, totalKb, Date.now()), message: `${tablespacesDone}/${tablespacesTotal} tablespaces` });
    } else ctx.note(line);
  });
  let result;
  try {
    // The stop ends pg_basebackup's process group (its WAL streamer with it) before exec rejects.
    result = await host.exec(basebackupArgv(ctx, tablespaces), { as: 'postgres', onStderr: (chunk) => lines.push(chunk), signal: stop });
  } catch (error) {
    if (!stop.aborted) throw error;
    if (!ctx.signal.aborted) throw stop.reason;
    throw new WizardError(
      "the clone was interrupted; the standby's data directory was not touched",
      where(ctx.standby),
      'run the same command again: finished steps are detected and skipped, the clone starts afresh',
    );
  }
  lines.end();
  if (result.code !== 0) {
    const text = errorLines(result.stderr).join('\n') || result.stderr.trim().split(/\r|\n/).slice(-3).join('\n');
    const failure = cloneFailure(text);
    // Evidence only: a primary that cannot be read now leaves pg_basebackup's words alone.
    const reasons = failure?.primaryLogPatterns ? primaryLogReasons(failure, await logSince(ctx.primary, primaryLog).catch(() => '')) : [];
    throw new WizardError(
      `pg_basebackup failed; the standby's data directory was not touched:\n${text}` +
        (failure ? `\n${failure.cause}` : '') +
        (reasons.length > 0 ? `\nthe primary's log during the copy:\n${reasons.join('\n')}` : ''),
      where(ctx.standby),
      failure?.fix({ dataDirectory: ctx.standby.cluster.dataDirectory, primaryMajor: ctx.primary.cluster.major }) ??
        replicationFix(text, { ...ctx.settings, primaryPort: ctx.primary.cluster.port }) ??
        "read pg_basebackup's message above, fix its cause and run setup again",
    );
  }
  const seconds = (performance.now() - started) / 1000;
  ctx.note(`pg_basebackup copied ${copiedKb} kB in ${seconds.toFixed(2)} s (${(copiedKb / 1024 / seconds).toFixed(1)} MB/s)`);
}

/**
 * After a failed or interrupted clone: no side directory, and the cluster running again if it
 * was. Returns the free space next to the data directory now, for the message.
 */
async function discardClone(ctx: StepContext, wasRunning: boolean, tablespaces: Tablespace[]): Promise<string> {
  const { host, cluster } = ctx.standby;
  const sides = [sideDirectory(cluster.dataDirectory), ...tablespaces.map((t) => tablespaceSide(t.target))];
  await host.run(privileged.removeTree(sides), { as: await directoryUser(host, sides) });
  if (wasRunning) {
    ctx.note(`starting the standby's cluster ${cluster.id} again, as it was before`);
    await controlServer(ctx.standby, 'start');
  }
  const [available, , mount] = (await host.run(privileged.freeSpace(dataParent(cluster.dataDirectory)), { as: 'postgres' })).split('\n')[1]?.trim().split(/\s+/).slice(3) ?? [];
  return `${size(Number(available))} free now on ${mount}`;
}

/**
 * A standby whose configuration lives in its data directory (hand-installed, PGDG) keeps its
 * own files: port, socket directory, logging and access rules are this server's, and the
 * primary's copies (or none, from a Debian primary that keeps them in /etc) must not replace
 * them. postgresql.auto.conf comes from the primary; the next step adjusts it.
 */
async function keepStandbyConfig(ctx: StepContext, kept: string): Promise<void> {
  const { host, cluster } = ctx.standby;
  if (cluster.configDir) return;
  const copied = (await host.run(privileged.copyExistingFiles(kept, cluster.dataDirectory, standbyOwnConfig), { as: 'postgres' })).split('\n').filter(Boolean);
  if (copied.length > 0) {
    ctx.note(`kept the standby's own ${copied.join(', ')} (from ${kept})`);
    ctx.recordChange({ side: 'standby', what: `kept the standby's own ${copied.join(', ')} in ${cluster.dataDirectory} instead of the primary's copies` });
  }
}

/** The configuration a hand-installed standby keeps in its data directory: its own, never the primary's copies. */
export const standbyOwnConfig = ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf'];

const tablespaceSwap = (t: Tablespace, suffix: string): Swap => ({ side: tablespaceSide(t.target), target: t.target, kept: keptTablespace(t.target, suffix) });

/** How to put the kept old directory back in place of the copy, as the user the swap ran as. */
const swapBack = (host: Host, as: Privilege, target: string, kept: string) =>
  `stop the cluster, then: ${byHandLine(host, as, ['mv', '-T', '--', target, `${target}.pgrepl-clone`])} && ${byHandLine(host, as, ['mv', '-T', '--', kept, target])}`;

/** Swaps every tablespace in after the data directory (`existing`: whether each target did); returns the kept old directories. */
async function swapTablespaces(ctx: StepContext, tablespaces: Tablespace[], suffix: string, as: Privilege, existing: readonly boolean[]): Promise<string[]> {
  const { host, cluster } = ctx.standby;
  const kept: string[] = [];
  for (const [index, t] of tablespaces.entries()) {
    const swap = tablespaceSwap(t, suffix);
    const old = swap.kept;
    const existed = existing[index];
    await swapIn(host, as, swap, existed);
    // The new cluster's pg_tblspc link points at the tablespace's standby path.
    await host.run(privileged.symlink(t.target, `${cluster.dataDirectory}/pg_tblspc/${t.oid}`), { as: 'postgres' });
    if (existed) kept.push(old);
    ctx.recordChange({
      side: 'standby',
      what: `cloned tablespace ${t.name} into ${t.target}${existed ? `; the old directory is kept as ${old}` : ''}`,
      ...(existed ? { backup: old, undo: swapBack(host, as, t.target, old) } : {}),
    });
  }
  return kept;
}

export const cloneStandbyStep: Step = {
  id: stepId,
  title: 'Clone the primary onto the standby',
  upstreamTitle: 'Clone the upstream onto the standby',

  async check(ctx): Promise<CheckResult> {
    const [primaryId, standbyId] = await Promise.all([systemIdentifier(ctx.primary), systemIdentifier(ctx.standby)]);
    const dir = ctx.standby.cluster.dataDirectory;
    if (ctx.settings.reclone) return { done: false, detail: `${dir} is to be cloned afresh (system identifier ${standbyId ?? 'none'})` };
    if (standbyId !== undefined && standbyId === primaryId) {
      return { done: true, detail: `${dir} is already a copy of the primary (system identifier ${primaryId})` };
    }
    return {
      done: false,
      detail: standbyId === undefined ? `${dir} holds no cluster yet` : `${dir} belongs to another cluster (system identifier ${standbyId}, the primary's is ${primaryId})`,
    };
  },

  async plan(ctx) {
    await runClonePrechecks(ctx, 'plan');
    const { host, cluster } = ctx.standby;
    const { settings } = ctx;
    const dir = cluster.dataDirectory;
    const actions: PlannedAction[] = [];
    if (settings.tls?.rootCert && settings.tls.rootCertPem !== undefined) {
      actions.push({ side: 'standby', summary: `Copy the CA certificate (--ssl-root-cert) to ${settings.tls.rootCert}: the standby checks the primary's certificate with it (sslmode=verify-full)` });
    }
    if (!(await passwordStored(ctx)).stored) {
      actions.push({
        side: 'standby',
        summary: `Store the replication password in ${settings.passfile} (owner ${ctx.standby.host.serverUser}, mode 0600; the content goes through stdin)`,
      });
    }
    actions.push({
      side: 'standby',
      summary: 'Open a replication connection to the primary (proves pg_hba, role, password, listen_addresses and firewall)',
      command: replicationProbeArgv(clientTool(cluster, 'psql'), passfileParams(settings, ctx.primary.cluster.port)),
    });
    if (await isRunning(host, cluster)) {
      actions.push({ side: 'standby', summary: `Stop the standby's cluster ${cluster.id}`, command: serverControlCommand(cluster, 'stop') });
    }
    if ((await host.exec(privileged.pathExists(sideDirectory(dir)), { as: 'postgres' })).code === 0) {
      actions.push({ side: 'standby', summary: 'Remove the side directory an interrupted clone left', command: privileged.removeTree([sideDirectory(dir)]) });
    }
    const tablespaces = await primaryTablespaces(ctx);
    actions.push(replaceAction(ctx, tablespaces));
    for (const t of tablespaces) {
      actions.push({
        side: 'standby',
        summary: `Swap tablespace ${t.name}'s copy in at ${t.target} (a directory there is kept as ${keptTablespace(t.target, '<time>')}) and link it from pg_tblspc`,
        command: privileged.movePath(tablespaceSide(t.target), t.target),
      });
    }
    actions.push({
      side: 'standby',
      summary: `Swap the complete copy in (mode 0700); the old data directory is first moved to ${keptDirectory(dir, '<time>')}`,
      command: privileged.movePath(sideDirectory(dir), dir),
    });
    if (!settings.keepOldData) {
      actions.push({ side: 'standby', summary: 'Delete the old data directory (--discard-old-data)', command: privileged.removeTree([keptDirectory(dir, '<time>')]) });
    }
    if (settings.checkpoint === 'spread') ctx.note('warning: --checkpoint spread: pg_basebackup waits for a spread checkpoint on the primary, which can take minutes');
    return actions;
  },

  async apply(ctx) {
    const { host, cluster } = ctx.standby;
    const dir = cluster.dataDirectory;
    await storeRootCert(ctx);
    // Both before the prechecks: the connection test needs the password, and a leftover clone
    // still holds the slot and would fail them. Independent of each other.
    await Promise.all([storePassword(ctx), endOrphanedClones(ctx)]);
    await runClonePrechecks(ctx, 'apply');
    const tablespaces = await primaryTablespaces(ctx);
    if (!(await ctx.confirm(replaceAction(ctx, tablespaces)))) {
      throw new WizardError('stopped before touching the standby', where(ctx.standby), "run again and confirm replacing the standby's data directory (headless: --yes)");
    }
    if (ctx.settings.checkpoint === 'spread') ctx.note('warning: waiting for a spread checkpoint on the primary; this can take minutes');
    // Asked again after the confirmation, which may have taken the operator a while; the open
    // session answers when it runs.
    const [standbyAddress, primaryLog, as] = await Promise.all([runningAddress(ctx.standby), markLog(ctx.primary), directoryUser(host, [dir, ...tablespaces.map((t) => t.target)])]);
    const wasRunning = standbyAddress !== undefined;
    const sides = [sideDirectory(dir), ...tablespaces.map((t) => tablespaceSide(t.target))];
    const untouched = () =>
      `The standby's data directory ${dir} is as it was${wasRunning ? ` (its cluster ${cluster.id} was stopped for the clone and may still be stopped)` : ''}; ` +
      `the partial copy in ${sides.join(', ')} is removed by the next run, which also ends a pg_basebackup left running there; the primary was not changed by this step`;
    await sayingWhatIsLeft(async () => {
      if (wasRunning) {
        ctx.note(`stopping the standby's cluster ${cluster.id}`);
        await controlServer(ctx.standby, 'stop');
      }
      try {
        // A side directory still here is from an interrupted earlier run: it is ours to remove.
        await host.run(privileged.removeTree(sides), { as });
        for (const side of sides) await host.run(privileged.makeServerDirectory(host.serverUser, side), { as });
        await runBasebackup(ctx, tablespaces, primaryLog);
      } catch (error) {
        // Cleaning up needs the connection that was just lost, or the sudo just refused: the next run does it.
        if ((error instanceof ConnectionLost && error.role === 'standby') || error instanceof SudoRefusedMidRun) throw error;
        const free = await discardClone(ctx, wasRunning, tablespaces);
        if (error instanceof ConnectionLost) {
          throw error.withState(
            `pg_basebackup on the standby was stopped: it cannot finish without the primary. The standby's data directory ${dir} is as it was` +
              `${wasRunning ? ` (its cluster ${cluster.id} runs again)` : ''}; the partial copy was removed (${free}); the primary was not changed by this step`,
          );
        }
        if (!(error instanceof WizardError)) throw error;
        throw new WizardError(`${error.message}\nthe partial copy was removed; ${free}`, error.where, error.fix);
      }
    }, untouched);
    const suffix = timestampSuffix();
    const kept = keptDirectory(dir, suffix);
    const swapped = () =>
      `The copy of the primary was being moved into ${dir} (the old data directory goes to ${kept})${wasRunning ? `; the standby's cluster ${cluster.id} was stopped for the clone and is still stopped` : ''}: ` +
      'the next run finds whichever is in place and finishes; the primary was not changed by this step';
    const keptSpaces = await sayingWhatIsLeft(async () => {
      const dataSwap = { side: sideDirectory(dir), target: dir, kept };
      const [dataExisted, ...spacesExisted] = await readySwaps(host, [dataSwap, ...tablespaces.map((t) => tablespaceSwap(t, suffix))]);
      await swapIn(host, as, dataSwap, dataExisted);
      await keepStandbyConfig(ctx, kept);
      return swapTablespaces(ctx, tablespaces, suffix, as, spacesExisted);
    }, swapped);
    if (ctx.settings.keepOldData) {
      ctx.recordChange({
        side: 'standby',
        what: `replaced ${dir} with a copy of the primary; the old data directory is kept as ${kept}`,
        backup: kept,
        undo: swapBack(host, as, dir, kept),
      });
      return `cloned the primary into ${dir}; the old data directory is kept as ${kept}`;
    }
    await host.run(privileged.removeTree([kept, ...keptSpaces]), { as });
    ctx.recordChange({ side: 'standby', what: `replaced ${dir} with a copy of the primary and deleted the old data directory (--discard-old-data)` });
    return `cloned the primary into ${dir}; the old data directory was deleted`;
  },

  async verify(ctx) {
    const { host, cluster } = ctx.standby;
    const [primaryId, standbyId, modeAndOwner] = await Promise.all([
      systemIdentifier(ctx.primary),
      systemIdentifier(ctx.standby),
      host.run(privileged.statPath('%a %U', cluster.dataDirectory), { as: 'postgres' }),
    ]);
    if (standbyId === undefined || standbyId !== primaryId) {
      throw new WizardError(
        `${cluster.dataDirectory} is not a copy of the primary (system identifier ${standbyId ?? 'none'}, the primary's ${primaryId})`,
        where(ctx.standby),
        'run setup again to clone',
      );
    }
    const [mode, owner] = modeAndOwner.trim().split(' ');
    if (mode !== '700' || owner !== cluster.owner) {
      throw new WizardError(
        `${cluster.dataDirectory} has mode ${mode} and owner ${owner}; PostgreSQL refuses to start unless it is ${cluster.owner}'s with mode 0700`,
        where(ctx.standby),
        `chown -R ${cluster.owner}: ${cluster.dataDirectory} && chmod 0700 ${cluster.dataDirectory}`,
      );
    }
    return `${cluster.dataDirectory} is a copy of the primary (system identifier ${primaryId}), owner ${owner}, mode 0700`;
  },
};
