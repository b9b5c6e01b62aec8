import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { settingsLine } from '../setup/render.js';
import { prepareSetup, runSetup, type SetupOutcome } from '../setup/setup.js';
import { findOldUpstream } from '../setup/old-upstream.js';
import type { Emit } from './events.js';

export interface SetupJob {
  pair: Pair;
  facts: PairFacts;
  options: Options;
  io: Io;
  emit: Emit;
  signal: AbortSignal;
  /** Show the whole plan and ask before anything changes (the app); headless asks per destructive action. */
  review: boolean;
}

/**
 * The setup job: settings resolved once (the password asked once), the plan built without
 * changing anything, reviewed when asked for, then the steps applied. `--plan` ends after
 * the plan. Undefined when the operator declined the plan: nothing was changed. A standby
 * that streamed from another server before (re-pointed to another upstream) has its slot there
 * dropped last.
 */
export async function setupJob({ pair, facts, options, io, emit, signal, review }: SetupJob): Promise<SetupOutcome | undefined> {
  const settings = await prepareSetup(pair, facts, options, io);
  const { old: oldUpstream, close } = await findOldUpstream(pair, facts, settings, options, io);
  try {
    const run = { pair, facts, settings, options, io, signal, oldUpstream };
    if (options.plan || review) {
      emit({ type: 'phase', phase: 'planning' });
      const plan = await runSetup({ ...run, emit: () => undefined, planOnly: true });
      if (options.plan) return plan;
      if (!(await io.reviewPlan({ kind: 'setup', heading: [settingsLine(plan.settings)], steps: plan.steps, footer: [] }))) return undefined;
    }
    emit({ type: 'phase', phase: 'applying' });
    return await runSetup({ ...run, emit, planOnly: false });
  } finally {
    await close();
  }
}
