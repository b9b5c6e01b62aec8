import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { handoffJob, handoffStandbys } from '../jobs/handoff.js';
import { openTopology } from '../session.js';
import { actionLines } from '../setup/render.js';
import { interruptionOn } from './interruption.js';

/** `handoff`: the plan, a confirmation, then repmgr.conf, the repmgr user and database, and every node registered. */
export async function handoffCommand(options: Options): Promise<number> {
  const io = terminalIo();
  const interruption = interruptionOn(['SIGINT'], 'handoff', 'run the same command again; what is done already is not planned again');
  const { primary, standbys, close } = await openTopology(options, io, handoffStandbys(options));
  try {
    const planText = (actions: Parameters<typeof actionLines>[0][]) => actions.flatMap(actionLines).join('\n');
    const heading = `# hand ${[primary, ...standbys].map((n) => n.name).join(', ')} to repmgr, in this order`;
    const showPlan = (actions: Parameters<typeof planText>[0]) => {
      if (!options.json) process.stderr.write(`${heading}\n${planText(actions)}\n`);
    };
    const outcome = await handoffJob({ primary, standbys, options, io, signal: interruption.signal, showPlan });
    if (options.json) console.log(JSON.stringify(outcome, null, 2));
    else if (outcome.planOnly) console.log(`${heading} (nothing has been changed)\n${planText(outcome.actions)}`);
    else if (outcome.done.length === 0) console.log('Nothing was changed.');
    else console.log(['Result: repmgr knows every node.', ...outcome.done.map((line) => `  - ${line}`), ...outcome.changes.filter((c) => c.undo).map((c) => `  undo: ${c.undo}`)].join('\n'));
    return outcome.planOnly || outcome.done.length > 0 ? 0 : 1;
  } finally {
    interruption.stopListening();
    await close();
  }
}
