import { UsageError, WizardError } from '../errors.js';
import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { connectPair, discoverPair } from '../session.js';
import { doctorNodes, examine } from '../doctor/doctor.js';
import { diagnosisText, planLines, repairLines } from '../doctor/render.js';
import { planRepairs, runRepairs } from '../doctor/repair.js';
import { stderrReporter } from './setup.js';

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
  const controller = new AbortController();
  const interrupt = () => controller.abort(new WizardError('interrupted by the operator', 'doctor --fix', 'run doctor again to see where the pair stands'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const pair = await connectPair(options, io);
  try {
    const pairFacts = await discoverPair(pair, options, io);
    const nodes = doctorNodes(pair, pairFacts);
    const before = await examine(nodes, options);
    if (!options.fix) {
      console.log(options.json ? JSON.stringify(before.diagnosis, null, 2) : diagnosisText(before.diagnosis, before.facts.relationship));
      return before.diagnosis.healthy ? 0 : 1;
    }
    if (!options.json) console.log(diagnosisText(before.diagnosis, before.facts.relationship));
    const plan = await planRepairs(pair, nodes, before, options, io);
    if (plan.steps.length === 0) {
      if (options.json) console.log(JSON.stringify({ ...before.diagnosis, repairs: null }, null, 2));
      else console.log('\nNothing here that --fix can repair.');
      return before.diagnosis.healthy ? 0 : 1;
    }
    const emit = options.json ? () => undefined : stderrReporter();
    const planned = await runRepairs({ nodes, facts: pairFacts, plan, options, io, emit: () => undefined, signal: controller.signal, planOnly: true });
    if (!options.json) console.log(['', ...planLines(planned, plan)].join('\n'));
    if (!options.yes && !(await io.confirm('Apply these repairs?', '--yes'))) {
      console.log('Nothing was changed.');
      return before.diagnosis.healthy ? 0 : 1;
    }
    const repairs = await runRepairs({ nodes, facts: pairFacts, plan, options, io, emit, signal: controller.signal, planOnly: false });
    const after = await examine(nodes, options);
    if (options.json) console.log(JSON.stringify({ ...after.diagnosis, before: before.diagnosis, repairs }, null, 2));
    else console.log(['', ...repairLines(repairs), '', 'After the repairs:', diagnosisText(after.diagnosis, after.facts.relationship)].join('\n'));
    return after.diagnosis.healthy ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await pair.close();
  }
}
