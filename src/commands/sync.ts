import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { syncJob, syncPlanLines, syncResultLines } from '../jobs/sync.js';
import { openPrimary } from '../session.js';
import { interruptionOn } from './interruption.js';

/** `sync`: the synchronous replication builder, headless (flags) or on a terminal (questions). */
export async function syncCommand(options: Options): Promise<number> {
  const io = terminalIo();
  const interruption = interruptionOn(['SIGINT'], 'sync', 'run sync again: it shows how the primary is set now');
  const { host, facts, close } = await openPrimary(options, io);
  try {
    // Headless, the plan goes to stderr before the question (stdout carries the result).
    const showPlan = (outcome: Parameters<typeof syncPlanLines>[0]) => {
      if (!options.json) process.stderr.write(`${syncPlanLines(outcome, host.label).join('\n')}\n`);
    };
    const outcome = await syncJob({ host, facts, options, io, signal: interruption.signal, showPlan });
    if (options.json) console.log(JSON.stringify(outcome, null, 2));
    else if (outcome.planOnly) console.log(`${syncPlanLines(outcome, host.label).join('\n')}\n(nothing has been changed)`);
    else console.log(syncResultLines(outcome).join('\n'));
    return outcome.planOnly || outcome.applied || outcome.actions.length === 0 ? 0 : 1;
  } finally {
    interruption.stopListening();
    await close();
  }
}
