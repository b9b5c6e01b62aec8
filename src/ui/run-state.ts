import type { Progress } from '../../steps/contract.js';
import type { JobEvent } from '../jobs/events.js';
import type { StepResult } from '../setup/runner.js';

/** What the run screen shows, built only from a job's events (a pure reducer). */
export interface StepView {
  id: string;
  title: string;
  phase?: string;
  notes: string[];
  result?: StepResult;
}

export interface RunState {
  /** Building the plan, or applying it. */
  phase?: 'planning' | 'applying';
  steps: StepView[];
  progress?: Progress;
}

export const emptyRun: RunState = { steps: [] };

export function reduceRun(state: RunState, event: JobEvent): RunState {
  const update = (id: string, change: (step: StepView) => StepView) => state.steps.map((step) => (step.id === id ? change(step) : step));
  switch (event.type) {
    case 'phase':
      return { ...state, phase: event.phase };
    case 'step-start':
      return { ...state, steps: [...state.steps, { id: event.id, title: event.title, notes: [] }], progress: undefined };
    case 'step-phase':
      return { ...state, steps: update(event.id, (step) => ({ ...step, phase: event.phase })) };
    case 'note':
      return { ...state, steps: update(event.id, (step) => ({ ...step, notes: [...step.notes, event.line] })) };
    case 'progress':
      return { ...state, progress: event.progress };
    case 'step-end': {
      const known = state.steps.some((step) => step.id === event.result.id);
      const steps = known
        ? update(event.result.id, (step) => ({ ...step, result: event.result }))
        : [...state.steps, { id: event.result.id, title: event.result.title, notes: [], result: event.result }];
      return { ...state, steps, progress: event.result.id === state.progress?.stepId ? undefined : state.progress };
    }
    // Diagnoses and repair plans are the doctor screen's, status the status screen's.
    case 'diagnosed':
    case 'repairs-planned':
    case 'repairs-done':
    case 'status':
      return state;
  }
}
