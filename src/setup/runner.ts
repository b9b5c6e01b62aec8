import type { Progress, Step, StepContext, StepResult } from '../../steps/contract.js';

export type { StepResult, StepStatus } from '../../steps/contract.js';
import { CutShort, WizardError } from '../errors.js';
import { timed } from '../timings.js';

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
    let copiedKb: number | undefined;
    const ctx = countingCopies(contextFor(step.id), (kb) => (copiedKb = kb));
    options.emit({ type: 'step-start', ...base });
    const phase = (name: 'checking' | 'planning' | 'applying' | 'verifying') => options.emit({ type: 'step-phase', id: step.id, phase: name });
    let result: StepResult;
    let changing = false;
    const started = performance.now();
    try {
      // A stop asked for (Ctrl-C, SIGTERM, SIGHUP) ends the run at the next step boundary.
      ctx.signal?.throwIfAborted();
      phase('checking');
      const check = await timed(`step ${step.id}: check`, () => step.check(ctx));
      if (check.done) {
        result = { ...base, status: 'already-done', detail: check.detail };
      } else if (options.planOnly) {
        phase('planning');
        result = { ...base, status: 'planned', detail: check.detail, actions: await timed(`step ${step.id}: plan`, () => step.plan(ctx)) };
      } else {
        // The plan was shown (interactive review, or --plan) before; apply re-checks what it needs.
        phase('applying');
        changing = true;
        const applied = await timed(`step ${step.id}: apply`, () => step.apply(ctx));
        ctx.signal?.throwIfAborted();
        phase('verifying');
        const proven = await timed(`step ${step.id}: verify`, () => step.verify(ctx));
        result = { ...base, status: 'done', detail: proven ? `${applied}; ${proven}` : applied };
      }
    } catch (caught) {
      // In plan mode a step may not be plannable before earlier steps ran; keep planning the rest.
      failed = !options.planOnly;
      const error = caught instanceof CutShort && !caught.state ? caught.withState(lossState(step, ctx, changing, results)) : caught;
      result = { ...base, status: 'failed', detail: errorDetail(error)!.message, error: errorDetail(error) };
    }
    result.durationMs = Math.round(performance.now() - started);
    if (copiedKb !== undefined) result.copiedKb = copiedKb;
    results.push(result);
    options.emit({ type: 'step-end', result });
  }
  return results;
}

/** The step's context, remembering what its last progress report said was copied (pg_basebackup's, pg_rewind's). */
function countingCopies(ctx: StepContext, copied: (kb: number) => void): StepContext {
  return {
    ...ctx,
    progress: (update: Progress) => {
      copied(update.doneKb);
      ctx.progress(update);
    },
  };
}

/** What a lost connection or an interruption left on the servers, as far as the runner knows. */
function lossState(step: Step, ctx: StepContext, changing: boolean, before: readonly StepResult[]): string {
  const finished = before.filter((r) => r.status === 'done' || r.status === 'already-done').length;
  if (!changing && finished === 0) return 'nothing had been changed yet';
  const earlier = finished > 0 ? `the ${finished} step${finished === 1 ? ' before it is' : 's before it are'} done and stay so` : 'no earlier step changed anything';
  if (!changing) return `"${step.title}" had changed nothing yet; ${earlier}`;
  return step.cutShort?.(ctx) ?? `"${step.title}" was cut short (the next run checks it again and finishes it); ${earlier}`;
}
