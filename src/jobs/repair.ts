import type { Examination } from '../doctor/doctor.js';
import { planRepairs, runRepairs, type RepairOutcome, type RepairPlan } from '../doctor/repair.js';
import { repairReview } from '../doctor/render.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { diagnoseJob, type DoctorNodes } from './diagnose.js';
import type { Emit } from './events.js';

export interface RepairJob {
  pair: Pair;
  facts: PairFacts;
  nodes: DoctorNodes;
  /** The diagnosis the repairs answer. */
  examination: Examination;
  options: Options;
  io: Io;
  emit: Emit;
  signal: AbortSignal;
  /** Ask before the repairs run (the app always; headless unless --yes). */
  review: boolean;
}

export type RepairResult =
  | { kind: 'nothing-to-repair'; plan: RepairPlan }
  | { kind: 'declined'; plan: RepairPlan; planned: RepairOutcome }
  | { kind: 'repaired'; plan: RepairPlan; repairs: RepairOutcome; after: Examination };

/**
 * The repair job: the findings' repairs planned (nothing changes), reviewed, run through the
 * setup runner, and the pair diagnosed again.
 */
export async function repairJob({ pair, facts, nodes, examination, options, io, emit, signal, review }: RepairJob): Promise<RepairResult> {
  const repairOptions = { ...options, fix: true };
  emit({ type: 'phase', phase: 'planning' });
  const plan = await planRepairs(pair, nodes, examination, repairOptions, io);
  if (plan.steps.length === 0) return { kind: 'nothing-to-repair', plan };
  const run = { nodes, facts, plan, options: repairOptions, io, signal };
  const planned = await runRepairs({ ...run, emit: () => undefined, planOnly: true });
  emit({ type: 'repairs-planned', plan, planned });
  if (review && !(await io.reviewPlan(repairReview(planned, plan)))) return { kind: 'declined', plan, planned };
  emit({ type: 'phase', phase: 'applying' });
  const repairs = await runRepairs({ ...run, emit, planOnly: false });
  emit({ type: 'repairs-done', repairs });
  return { kind: 'repaired', plan, repairs, after: await diagnoseJob(nodes, options, emit) };
}
