import { UsageError } from '../errors.js';
import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import type { JobEvent } from '../jobs/events.js';
import { openSession } from '../jobs/session.js';
import { planText, progressLine, stepLines, summaryText } from '../setup/render.js';
import { timed } from '../timings.js';
import { interruptionOn } from './interruption.js';

/** The headless reporter: a job's live events on stderr, so stdout carries only the summary (or the JSON document). */
export function stderrReporter(): (event: JobEvent) => void {
  const tty = Boolean(process.stderr.isTTY);
  let lastDecile = -1;
  return (event) => {
    switch (event.type) {
      case 'step-start':
        process.stderr.write(`==> ${event.title}\n`);
        lastDecile = -1;
        break;
      case 'note':
        process.stderr.write(`    ${event.line}\n`);
        break;
      case 'progress': {
        const decile = Math.floor(event.progress.percent / 10);
        if (tty) process.stderr.write(`\r    ${progressLine(event.progress)}\x1b[K`);
        else if (decile !== lastDecile) process.stderr.write(`    ${progressLine(event.progress)}\n`);
        lastDecile = decile;
        break;
      }
      case 'step-end':
        if (tty && lastDecile >= 0) process.stderr.write('\n');
        process.stderr.write(`${stepLines(event.result).map((l) => `    ${l}`).join('\n')}\n`);
        break;
      // The phases and doctor's milestones are printed by the command from the job's result.
      case 'step-phase':
      case 'phase':
      case 'diagnosed':
      case 'repairs-planned':
      case 'repairs-done':
        break;
    }
  };
}

export async function setupCommand(options: Options): Promise<number> {
  const io = terminalIo();
  if (!options.plan && !options.yes && !io.interactive) {
    throw new UsageError(
      'setup changes both servers and there is no terminal to confirm on',
      'pass --yes (and --restart-primary if the primary may be restarted), or --plan to only print the plan',
    );
  }
  // SIGHUP: the terminal was closed; stop as cleanly as on Ctrl-C rather than die mid-step.
  const interruption = interruptionOn(['SIGINT', 'SIGTERM', 'SIGHUP'], 'setup', 'run the same command again; finished steps are detected and skipped');
  // The job's modules (the steps and their helpers) load while the hosts connect, not before.
  const job = import('../jobs/setup.js');
  job.catch(() => undefined);
  const { pair, facts, close } = await openSession(options, io, interruption.signal);
  try {
    const { setupJob } = await job;
    const quiet = options.json || options.plan;
    // Headless, the plan is not reviewed as a whole (each destructive action asks, or needs its
    // flag), so there is always an outcome: only a declined review has none.
    const outcome = (await setupJob({ pair, facts, options, io, emit: quiet ? () => undefined : stderrReporter(), signal: interruption.signal, review: false }))!;
    if (options.json) console.log(JSON.stringify(outcome, null, 2));
    else console.log(outcome.planOnly ? planText(outcome) : summaryText(outcome));
    if (interruption.signal.aborted) return 130;
    return outcome.ok ? 0 : 1;
  } finally {
    interruption.stopListening();
    await timed('close both connections', close);
  }
}
