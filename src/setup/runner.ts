import type { Progress, Step, StepContext, StepResult } from '../../steps/contract.js';

export type { StepResult, StepStatus } from '../../steps/contract.js';
import { WizardError } from '../errors.js';

export type RunnerEvent =
  | { type: 'step-start'; id: string; title: string }
  | { type: 'step-phase'; id: string; phase: 'checking' | 'planning' | 'applying' | 'verifying' }
  | { type: 'step-end'; result: StepResult }
  | { type: 'note'; id: string; line: string }
  | { type: 'progress'; progress: Progress };

export const errorDetail = (error: unknown): StepResult['error'] =>
  error instanceof WizardError
    ? { message: error.message, where: error.where, fix: error.fix }
    : { message: error instanceof Error ? error.message : String(error) };

/**
 * Drives the steps in order, the same way for the Ink app and the headless command:
 * check → (already done: skip) → apply → verify, or with `planOnly` check → plan, which
 * changes nothing. The first failure stops the run; later steps are reported as skipped.
 */
export async function runSteps(
  steps: readonly Step[],
  contextFor: (stepId: string) => StepContext,
  options: { planOnly: boolean; emit: (event: RunnerEvent) => void },
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  let failed = false;
  for (const step of steps) {
    const base = { id: step.id, title: step.title };
    if (failed) {
      const result: StepResult = { ...base, status: 'skipped', detail: 'not run: an earlier step failed' };
      results.push(result);
      options.emit({ type: 'step-end', result });
      continue;
    }
    const ctx = contextFor(step.id);
    options.emit({ type: 'step-start', ...base });
    const phase = (name: 'checking' | 'planning' | 'applying' | 'verifying') => options.emit({ type: 'step-phase', id: step.id, phase: name });
    let result: StepResult;
    const started = performance.now();
    try {
      phase('checking');
      const check = await step.check(ctx);
      if (check.done) {
        result = { ...base, status: 'already-done', detail: check.detail };
      } else if (options.planOnly) {
        phase('planning');
        result = { ...base, status: 'planned', detail: check.detail, actions: await step.plan(ctx) };
      } else {
        // The plan was shown (interactive review, or --plan) before; apply re-checks what it needs.
        phase('applying');
        const applied = await step.apply(ctx);
        phase('verifying');
        const proven = await step.verify(ctx);
        result = { ...base, status: 'done', detail: proven ? `${applied}; ${proven}` : applied };
      }
    } catch (error) {
      // In plan mode a step may not be plannable before earlier steps ran; keep planning the rest.
      failed = !options.planOnly;
      result = { ...base, status: 'failed', detail: errorDetail(error)!.message, error: errorDetail(error) };
    }
    result.durationMs = Math.round(performance.now() - started);
    results.push(result);
    options.emit({ type: 'step-end', result });
  }
  return results;
}
