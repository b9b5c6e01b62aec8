import { CutShort, WizardError } from '../src/errors.js';
import { where, type CheckResult, type Step, type StepContext } from './contract.js';
import { runningAddress, systemIdentifier } from '../src/facts/live.js';
import { sharedWithCheck } from './lib/checked-state.js';
import { pollUntil } from './lib/poll.js';
import { replicationFix } from '../src/catalog/replication-errors.js';
import { controlServer, isRunning, serverControlCommand, startGoesOn } from './lib/server-control.js';
import { logSince, markLog, problemLines, type LogMark } from '../src/facts/server-log.js';

/**
 * Step 7: start the standby with the host's own tool and wait until it accepts read-only
 * connections in recovery. When it does not come up, the error carries the FATAL lines of
 * its own log and the fix for them.
 */

const stepId = 'start-standby';
const startTimeoutMs = 120_000;

async function startFailure(ctx: StepContext, mark: LogMark, cause: string): Promise<WizardError> {
  const lines = problemLines(await logSince(ctx.standby, mark));
  const { cluster } = ctx.standby;
  return new WizardError(
    `the standby's cluster ${cluster.id} ${cause}${lines.length ? `; its log says:\n${lines.join('\n')}` : ''}`,
    where(ctx.standby),
    replicationFix(lines.join('\n'), { ...ctx.settings, primaryPort: ctx.primary.cluster.port }) ?? `read the server log${cluster.logFile ? ` (${cluster.logFile})` : ''} for the reason`,
  );
}

type RecoveryState = { inRecovery: boolean } | { stopped: true } | { hotStandbyOff: true };

/** Whether the server runs and answers, and if so whether it is in recovery; undefined while it is still starting. */
async function recoveryState(ctx: StepContext): Promise<RecoveryState | undefined> {
  const address = await runningAddress(ctx.standby);
  if (!address) return { stopped: true };
  try {
    const [row] = await ctx.standby.host.sql<{ in_recovery: boolean }>(address, 'SELECT pg_is_in_recovery() AS in_recovery');
    return { inRecovery: row.in_recovery };
  } catch (error) {
    // PG 14+ with hot_standby off ("not yet accepting" is the wait for consistency): waiting would not help.
    if (/the database system is not accepting connections/.test(String(error))) return { hotStandbyOff: true };
    return undefined;
  }
}

const checkedState = sharedWithCheck(recoveryState);

export const startStandbyStep: Step = {
  id: stepId,
  title: 'Start the standby',

  async check(ctx): Promise<CheckResult> {
    const state = await checkedState.forCheck(ctx);
    if (state && 'inRecovery' in state && state.inRecovery) return { done: true, detail: `${ctx.standby.cluster.id} is running in recovery` };
    if (state && 'stopped' in state) return { done: false, detail: `${ctx.standby.cluster.id} is not running` };
    return { done: false, detail: `${ctx.standby.cluster.id} is running but not as a standby in hot standby` };
  },

  async plan(ctx) {
    const { cluster, host } = ctx.standby;
    // A standby that is not a copy of the primary yet is stopped by the clone before this step.
    const [primaryId, standbyId] = await Promise.all([systemIdentifier(ctx.primary), systemIdentifier(ctx.standby)]);
    const action = primaryId === standbyId && (await isRunning(host, cluster)) ? 'restart' : 'start';
    return [
      {
        side: 'standby',
        summary: `${action === 'start' ? 'Start' : 'Restart'} the standby's cluster ${cluster.id} and wait (up to ${startTimeoutMs / 1000} s) until it accepts read-only connections in recovery`,
        command: serverControlCommand(cluster, action),
      },
    ];
  },

  async apply(ctx) {
    const { cluster, host } = ctx.standby;
    // check() has just seen whether it runs: a server that is not up yet is restarted too.
    const [mark, checked] = await Promise.all([markLog(ctx.standby), checkedState.afterCheck(ctx)]);
    try {
      await controlServer(ctx.standby, checked && 'stopped' in checked ? 'start' : 'restart');
    } catch (error) {
      // The run interrupted, or its connection lost: said as such (cutShort), not waited past.
      if (error instanceof CutShort) throw error;
      // pg_ctl stops waiting after its own timeout while a long recovery goes on: keep waiting then.
      if (!(await isRunning(host, cluster))) throw await startFailure(ctx, mark, 'did not start');
      ctx.note(`${cluster.id} is still starting: ${error instanceof Error ? error.message : String(error)}`);
    }
    const state = await pollUntil(() => recoveryState(ctx), { timeoutMs: startTimeoutMs, intervalMs: 200, signal: ctx.signal });
    if (!state) throw await startFailure(ctx, mark, `did not accept connections within ${startTimeoutMs / 1000} s`);
    if ('stopped' in state) throw await startFailure(ctx, mark, 'stopped while starting');
    if ('hotStandbyOff' in state) {
      throw new WizardError(
        `the standby's cluster ${cluster.id} runs but refuses connections: the database system is not accepting connections (hot_standby is off)`,
        where(ctx.standby),
        "set hot_standby = on in the standby's configuration (setup's recovery step does that) and restart it",
      );
    }
    if (!state.inRecovery) {
      throw new WizardError(
        `the standby's cluster ${cluster.id} started, but as a primary (not in recovery)`,
        where(ctx.standby),
        `standby.signal (PG 12+) or recovery.conf is missing in ${cluster.dataDirectory}: stop the cluster, run setup again, and clone afresh if it already took writes`,
      );
    }
    return `${cluster.id} started and is in recovery`;
  },

  cutShort: (ctx) =>
    `The standby's cluster ${ctx.standby.cluster.id} was being started: ${startGoesOn}, so it may be starting or running now; ` +
    'the next run checks it and waits for it; the primary was not changed by this step',

  async verify(ctx) {
    const state = await recoveryState(ctx);
    if (!state || !('inRecovery' in state) || !state.inRecovery) {
      throw new WizardError(
        `the standby's cluster ${ctx.standby.cluster.id} is not running in recovery`,
        where(ctx.standby),
        `read the server log${ctx.standby.cluster.logFile ? ` (${ctx.standby.cluster.logFile})` : ''}, then run setup again`,
      );
    }
    return `${ctx.standby.cluster.id} accepts read-only connections in recovery`;
  },
};
