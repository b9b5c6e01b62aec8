import { WizardError } from '../src/errors.js';
import * as privileged from '../src/remote/commands.js';
import { readControlFile } from '../src/facts/clusters.js';
import { serverHome } from '../src/facts/host.js';
import { runningAddress } from '../src/facts/live.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from './contract.js';
import { standbyOwnConfig } from './clone-standby.js';
import { timestampSuffix } from './lib/config-files.js';
import { copyWalSegment, findPgRewind, missingWalSegment, rewindArgv, runRewind, targetWal, walFromPrimary, type RewindRun, type TargetWal } from './lib/rewind.js';
import { controlServer, serverControlCommand } from './lib/server-control.js';

/**
 * doctor --fix's cheaper repair for a standby whose history forked from the primary's (it was
 * promoted by mistake, or wrote on its own timeline): pg_rewind copies only what changed since
 * the fork instead of the whole cluster. The standby is stopped cleanly, pg_rewind runs once
 * with --dry-run (it refuses before changing anything when it cannot work), then for real; the
 * standby's own configuration files inside its data directory, which pg_rewind replaces with
 * the primary's, are saved before and put back after. The recovery config and the start follow
 * as after a clone. A rewind that fails is answered by the re-clone (src/doctor/repair.ts).
 */

const stepId = 'rewind-standby';

/** pg_rewind refused or failed; `changed`: it had begun writing into the data directory. */
export class RewindFailed extends WizardError {
  constructor(
    message: string,
    where: string,
    readonly pgRewindSays: string,
    readonly changed: boolean,
  ) {
    super(message, where, changed ? "the standby's data directory may be unusable now: clone it again (doctor --fix offers it)" : 'clone the standby again instead (doctor --fix offers it)');
  }
}

/** The files pg_rewind would replace with the primary's: postgresql.auto.conf, and the whole configuration where it lives in the data directory. */
const ownFiles = (ctx: StepContext) => ['postgresql.auto.conf', ...(ctx.standby.cluster.configDir ? [] : standbyOwnConfig)];

const cleanStates = ['shut down', 'shut down in recovery'];

/** Stopped, and shut down cleanly (pg_rewind's demand): a crashed cluster is started and stopped once with its own tool. */
async function stopCleanly(ctx: StepContext): Promise<void> {
  const { host, cluster } = ctx.standby;
  if (await runningAddress(ctx.standby)) {
    ctx.note(`stopping the standby's cluster ${cluster.id}`);
    await controlServer(ctx.standby, 'stop');
  }
  const state = (await readControlFile(host, cluster))?.state;
  if (state && !cleanStates.includes(state)) {
    // Its own tool knows where the configuration lives; pg_rewind's single-user start does not (Debian).
    ctx.note(`the standby's cluster was not shut down cleanly (${state}): starting and stopping it once so that it finishes crash recovery`);
    await controlServer(ctx.standby, 'start');
    await controlServer(ctx.standby, 'stop');
  }
}

/** At most this many WAL segments are fetched from the primary for pg_rewind (16 MB each by default). */
const walSegmentsFetched = 64;

/** pg_rewind --dry-run; each WAL segment it misses that the primary still has is copied over, and it runs again. */
async function dryRunFetchingWal(ctx: StepContext, pgRewind: string, wal: TargetWal): Promise<RewindRun> {
  for (let fetched = 0; ; fetched++) {
    const dryRun = await runRewind(ctx.primary, ctx.standby, { dryRun: true, pgRewind, wal, signal: ctx.signal });
    const missing = missingWalSegment(dryRun);
    if (!missing || fetched === walSegmentsFetched || !(await copyWalSegment(ctx.primary, ctx.standby, missing))) {
      for (const line of dryRun.lines) ctx.note(line);
      return dryRun;
    }
    ctx.note(`pg_rewind needs WAL segment ${missing}, which the standby no longer has${wal.args.length > 0 ? ' (nor its archive)' : ''}: copied it from the primary's pg_wal (the same WAL before the fork)`);
  }
}

const megabytes = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

export const rewindStandbyStep: Step = {
  id: stepId,
  title: "Rewind the standby to the primary's history (pg_rewind)",

  async check(ctx): Promise<CheckResult> {
    const address = await runningAddress(ctx.standby);
    const [state] = address ? await ctx.standby.host.sql<{ in_recovery: boolean; receiver: string | null }>(address, 'SELECT pg_is_in_recovery() AS in_recovery, (SELECT status FROM pg_stat_wal_receiver) AS receiver') : [];
    if (state?.in_recovery && state.receiver === 'streaming') return { done: true, detail: `${ctx.standby.cluster.id} streams from the primary` };
    return { done: false, detail: `${ctx.standby.cluster.id} ${state ? (state.in_recovery ? 'does not stream' : 'runs as a primary') : 'is stopped'}: its history is to be rewound to the primary's` };
  },

  async plan(ctx) {
    const { cluster } = ctx.standby;
    const actions: PlannedAction[] = [];
    const found = await findPgRewind(ctx.standby);
    const wal = targetWal(ctx.standby, ctx.settings.keptArchive?.restore_command);
    const pgRewind = 'path' in found ? found.path : 'pg_rewind';
    if (await runningAddress(ctx.standby)) actions.push({ side: 'standby', summary: `Stop the standby's cluster ${cluster.id} (pg_rewind needs it shut down cleanly)`, command: serverControlCommand(cluster, 'stop') });
    actions.push(
      { side: 'standby', summary: `Save the standby's own ${ownFiles(ctx).join(', ')} (pg_rewind copies the primary's) to ~${ctx.standby.host.serverUser}/.pgrepl-wizard/rewind-<time>/` },
      { side: 'standby', summary: `pg_rewind --dry-run: proves the rewind can work before anything changes; ${wal.says}`, command: rewindArgv(ctx.primary, ctx.standby, pgRewind, true, wal) },
      rewindAction(ctx, pgRewind, wal),
      { side: 'standby', summary: `Put the standby's own ${ownFiles(ctx).join(', ')} back` },
    );
    return actions;
  },

  async apply(ctx) {
    const { host, cluster } = ctx.standby;
    const dir = cluster.dataDirectory;
    const found = await findPgRewind(ctx.standby);
    const wal = targetWal(ctx.standby, ctx.settings.keptArchive?.restore_command);
    if ('missing' in found) throw new RewindFailed(found.missing, where(ctx.standby), found.missing, false);
    if (!(await ctx.confirm(rewindAction(ctx, found.path, wal)))) {
      throw new WizardError('stopped before touching the standby', where(ctx.standby), "run again and confirm rewinding the standby's data directory (headless: --yes)");
    }
    await stopCleanly(ctx);
    ctx.note(wal.says);
    const dryRun = await dryRunFetchingWal(ctx, found.path, wal);
    if (!dryRun.ok) throw refused(ctx, dryRun, false);

    const saved = `${await serverHome(host)}/.pgrepl-wizard/rewind-${timestampSuffix()}`;
    await host.run(privileged.makeServerDirectory(host.serverUser, saved), { as: 'postgres' });
    const files = (await host.run(privileged.copyExistingFiles(dir, saved, ownFiles(ctx)), { as: 'postgres' })).split('\n').filter(Boolean);
    ctx.note(`saved the standby's own ${files.join(', ')} in ${saved}`);

    const started = performance.now();
    const rewound = await runRewind(ctx.primary, ctx.standby, {
      dryRun: false,
      pgRewind: found.path,
      wal,
      signal: ctx.signal,
      onProgress: (doneKb, totalKb, percent) => ctx.progress({ stepId, doneKb, totalKb, percent, message: 'pg_rewind' }),
    });
    for (const line of rewound.lines) ctx.note(line);
    if (!rewound.ok) throw refused(ctx, rewound, true);
    await host.run(privileged.copyExistingFiles(saved, dir, files), { as: 'postgres' });
    const copied = `pg_rewind copied ${megabytes(rewound.copiedKb ?? 0)} in ${((performance.now() - started) / 1000).toFixed(1)} s${rewound.toCopy ? ` (${rewound.toCopy})` : ''}`;
    ctx.note(copied);
    ctx.recordChange({
      side: 'standby',
      what: `rewound ${dir} to the primary's history (${copied}); what the standby wrote after the fork is gone; its own ${files.join(', ')} were put back (copies in ${saved})`,
      backup: saved,
    });
    // Where an archive was there to use, whether pg_rewind could use it.
    return `rewound ${dir}: ${copied}${wal === walFromPrimary ? '' : `; ${wal.says}`}`;
  },

  async verify(ctx) {
    const { host, cluster } = ctx.standby;
    // pg_rewind leaves a backup_label (the next start replays from the last common checkpoint),
    // or, when it found no fork ("no rewind required"), the standby is on the primary's timeline.
    const [label, standby, primary] = await Promise.all([
      host.exec(privileged.pathExists(`${cluster.dataDirectory}/backup_label`), { as: 'postgres' }),
      readControlFile(host, cluster),
      readControlFile(ctx.primary.host, ctx.primary.cluster),
    ]);
    if (label.code === 0) return `${cluster.dataDirectory} holds the primary's history up to the fork and a backup_label to replay the rest from`;
    if (standby && primary && standby.timeline === primary.timeline) return `${cluster.dataDirectory} is on the primary's timeline ${primary.timeline}`;
    throw new WizardError(`${cluster.dataDirectory} has no backup_label after pg_rewind and is on timeline ${standby?.timeline ?? '?'}, the primary on ${primary?.timeline ?? '?'}`, where(ctx.standby), 'clone the standby again (doctor --fix)');
  },
};

/** The rewind itself, for the plan and the confirmation: it changes the data directory in place. */
function rewindAction(ctx: StepContext, pgRewind: string, wal: TargetWal): PlannedAction {
  const { cluster } = ctx.standby;
  return {
    side: 'standby',
    summary:
      `Rewind the standby's data directory ${cluster.dataDirectory} with pg_rewind ${cluster.major} against the primary ` +
      `(--source-server: the primary's superuser ${ctx.primary.host.serverUser} over the wizard's socket relay, no password): ` +
      "only the blocks changed since the fork are copied; what the standby wrote after the fork is discarded, not kept",
    command: rewindArgv(ctx.primary, ctx.standby, pgRewind, false, wal),
    destructive: 'replace-standby-data',
  };
}

function refused(ctx: StepContext, run: RewindRun, changed: boolean): RewindFailed {
  const says = run.error ?? 'pg_rewind failed';
  const state = changed ? 'pg_rewind failed part-way' : `pg_rewind refused (the data directory was not changed; the standby's cluster is stopped)`;
  return new RewindFailed(`${state}: ${says}`, where(ctx.standby), says, changed);
}
