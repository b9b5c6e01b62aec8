import type { Examination } from '../doctor/doctor.js';
import type { RepairOutcome, RepairPlan } from '../doctor/repair.js';
import type { RunnerEvent } from '../setup/runner.js';
import type { LagPoint, PairStatus } from '../status/assess.js';

/**
 * What a job tells whoever watches it: the runner's per-step events, and the job's own
 * milestones. The Ink views and the headless reporters render these; neither drives the job.
 */
export type JobEvent =
  | RunnerEvent
  /** Building the plan (nothing changes), then applying it. */
  | { type: 'phase'; phase: 'planning' | 'applying' }
  | { type: 'diagnosed'; examination: Examination }
  | { type: 'repairs-planned'; plan: RepairPlan; planned: RepairOutcome }
  | { type: 'repairs-done'; repairs: RepairOutcome }
  /** One refresh of `status`: the pair's status and the lag chart's points (oldest first). */
  | { type: 'status'; status: PairStatus; chart: LagPoint[] };

export type Emit = (event: JobEvent) => void;
