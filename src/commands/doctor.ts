import { UsageError } from '../errors.js';
import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { diagnosisText, planLines, repairLines } from '../doctor/render.js';
import { diagnoseJob, doctorNodes } from '../jobs/diagnose.js';
import type { Emit } from '../jobs/events.js';
import { repairJob } from '../jobs/repair.js';
import { repointJob } from '../jobs/repoint.js';
import { brokenHop } from '../doctor/chain.js';
import { summaryText } from '../setup/render.js';
import { openSession } from '../jobs/session.js';
import { stderrReporter } from './setup.js';
import { interruptionOn } from './interruption.js';

/**
 * `doctor`: the diagnosis on stdout (text, or one JSON document), exit 1 when any finding is
 * an error. `--fix`: the repair plan, a confirmation, the repairs, then a second diagnosis.
 */
export async function doctorCommand(options: Options): Promise<number> {
  const io = terminalIo();
  if (options.dropSlot && !options.fix) throw new UsageError('--drop-slot only means something with --fix', 'pass --fix --drop-slot NAME');
  if (options.fix && !options.yes && !io.interactive) {
    throw new UsageError(
      'doctor --fix changes the servers and there is no terminal to confirm on',
      'pass --yes (and --restart-primary if the primary may be restarted, --drop-slot NAME for an inactive slot to drop)',
    );
  }
  const interruption = interruptionOn(['SIGINT', 'SIGTERM'], 'doctor --fix', 'run doctor again to see where the pair stands');
  const { pair, facts: pairFacts, close } = await openSession(options, io, interruption.signal);
  try {
    const nodes = doctorNodes(pair, pairFacts);
    const before = await diagnoseJob(nodes, options, () => undefined);
    if (!options.fix) {
      console.log(options.json ? JSON.stringify(before.diagnosis, null, 2) : diagnosisText(before.diagnosis, before.facts.relationship));
      return before.diagnosis.healthy ? 0 : 1;
    }
    if (!options.json) console.log(diagnosisText(before.diagnosis, before.facts.relationship));
    const steps = stderrReporter();
    // The repair plan goes to stdout with the diagnoses; the steps' progress to stderr.
    const emit: Emit = options.json ? () => undefined : (event) => (event.type === 'repairs-planned' ? console.log(['', ...planLines(event.planned, event.plan)].join('\n')) : steps(event));
    if (pair.upstream && brokenHop(before.diagnosis)) {
      // The hop before a cascaded standby is broken: the repair is another upstream, the primary.
      const repointed = await repointJob({ pair, facts: pairFacts, options, io, emit: options.json ? () => undefined : steps, signal: interruption.signal });
      if (!repointed) {
        console.log('Nothing was changed.');
        return 1;
      }
      const after = await diagnoseJob(doctorNodes({ ...pair, upstream: undefined }, { ...pairFacts, upstream: undefined }), options, () => undefined);
      if (options.json) console.log(JSON.stringify({ ...after.diagnosis, before: before.diagnosis, repointed }, null, 2));
      else console.log(['', summaryText(repointed), '', 'After re-pointing the standby to the primary:', diagnosisText(after.diagnosis, after.facts.relationship)].join('\n'));
      return repointed.ok && after.diagnosis.healthy ? 0 : 1;
    }
    const result = await repairJob({ pair, facts: pairFacts, nodes, examination: before, options, io, emit, signal: interruption.signal, review: !options.yes });
    if (result.kind === 'nothing-to-repair') {
      if (options.json) console.log(JSON.stringify({ ...before.diagnosis, repairs: null }, null, 2));
      else console.log('\nNothing here that --fix can repair.');
      return before.diagnosis.healthy ? 0 : 1;
    }
    if (result.kind === 'declined') {
      console.log('Nothing was changed.');
      return before.diagnosis.healthy ? 0 : 1;
    }
    const { repairs, after } = result;
    if (options.json) console.log(JSON.stringify({ ...after.diagnosis, before: before.diagnosis, repairs }, null, 2));
    else console.log(['', ...repairLines(repairs), '', 'After the repairs:', diagnosisText(after.diagnosis, after.facts.relationship)].join('\n'));
    return after.diagnosis.healthy ? 0 : 1;
  } finally {
    interruption.stopListening();
    await close();
  }
}
