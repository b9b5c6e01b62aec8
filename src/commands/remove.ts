import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { removeJob } from '../jobs/remove.js';
import { openPrimary } from '../session.js';
import { actionLines } from '../setup/render.js';
import { interruptionOn } from './interruption.js';

export async function removeCommand(options: Options): Promise<number> {
  const io = terminalIo();
  const interruption = interruptionOn(['SIGINT'], 'remove', 'run the same command again; what is already removed is not planned again');
  const { host, facts, close } = await openPrimary(options, io, interruption.signal);
  try {
    const planText = (actions: Parameters<typeof actionLines>[0][]) => actions.flatMap(actionLines).join('\n');
    // Headless, the plan goes to stderr before the question (stdout carries the result).
    const warningLines = (warnings: string[]) => warnings.map((line) => `  WARNING: ${line}\n`).join('');
    const showPlan = (actions: Parameters<typeof planText>[0], warnings: string[]) => {
      if (!options.json) process.stderr.write(`# take standby ${options.slot} off the primary ${host.label}, in this order\n${warningLines(warnings)}${planText(actions)}\n`);
    };
    const outcome = await removeJob({ host, facts, options, io, signal: interruption.signal, showPlan });
    if (options.json) console.log(JSON.stringify(outcome, null, 2));
    else if (outcome.actions.length === 0) console.log(`The primary holds nothing of standby ${outcome.name} (no slot, no pg_hba.conf line of setup's, no replication connection): nothing to remove.`);
    else if (outcome.planOnly) console.log(`# take standby ${outcome.name} off the primary ${host.label}, in this order (nothing has been changed)\n${warningLines(outcome.warnings)}${planText(outcome.actions)}`);
    else if (outcome.done.length === 0) console.log('Nothing was changed.');
    else console.log([`Result: standby ${outcome.name} is off the primary.`, ...outcome.done.map((line) => `  - ${line}`), ...outcome.changes.filter((c) => c.undo).map((c) => `  undo: ${c.undo}`)].join('\n'));
    return outcome.planOnly || outcome.actions.length === 0 || outcome.done.length > 0 ? 0 : 1;
  } finally {
    interruption.stopListening();
    await close();
  }
}
