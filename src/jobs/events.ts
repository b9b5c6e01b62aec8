import type { Examination } from '../doctor/doctor.js';
import type { RepairOutcome, RepairPlan } from '../doctor/repair.js';
import type { RunnerEvent } from '../setup/runner.js';

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
  | { type: 'repairs-done'; repairs: RepairOutcome };

export type Emit = (event: JobEvent) => void;
