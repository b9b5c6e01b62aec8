import { describe, expect, it } from 'vitest';
import type { Step, StepContext } from '../../steps/contract.js';
import { runSteps, type RunnerEvent } from '../../src/setup/runner.js';
import { WizardError } from '../../src/errors.js';

/** A step that records which phases ran, with a switchable "already done" and failure. */
function recordingStep(id: string, calls: string[], behaviour: { done?: boolean; failApply?: boolean } = {}): Step {
  return {
    id,
    title: `step ${id}`,
    check: async () => {
      calls.push(`${id}:check`);
      return { done: Boolean(behaviour.done), detail: behaviour.done ? 'was done' : 'to do' };
    },
    plan: async () => {
      calls.push(`${id}:plan`);
      return [{ side: 'primary', summary: `do ${id}` }];
    },
    apply: async () => {
      calls.push(`${id}:apply`);
      if (behaviour.failApply) throw new WizardError('it broke', `primary h`, 'fix it');
      return `applied ${id}`;
    },
    verify: async () => {
      calls.push(`${id}:verify`);
      return `verified ${id}`;
    },
  };
}

const context = {} as StepContext;

describe('runSteps', () => {
  it('skips what is already done, applies and verifies the rest', async () => {
    const calls: string[] = [];
    const results = await runSteps([recordingStep('a', calls, { done: true }), recordingStep('b', calls)], () => context, { planOnly: false, emit: () => undefined });
    expect(calls).toEqual(['a:check', 'b:check', 'b:apply', 'b:verify']);
    expect(results.map((r) => [r.id, r.status, r.detail])).toEqual([
      ['a', 'already-done', 'was done'],
      ['b', 'done', 'applied b; verified b'],
    ]);
  });

  it('changes nothing in plan mode', async () => {
    const calls: string[] = [];
    const results = await runSteps([recordingStep('a', calls), recordingStep('b', calls)], () => context, { planOnly: true, emit: () => undefined });
    expect(calls.filter((c) => c.endsWith(':apply') || c.endsWith(':verify'))).toEqual([]);
    expect(results.map((r) => r.status)).toEqual(['planned', 'planned']);
    expect(results[0].actions).toEqual([{ side: 'primary', summary: 'do a' }]);
  });

  it('stops at the first failure, keeps its where and fix, and reports later steps as skipped', async () => {
    const calls: string[] = [];
    const events: RunnerEvent[] = [];
    const results = await runSteps([recordingStep('a', calls, { failApply: true }), recordingStep('b', calls)], () => context, { planOnly: false, emit: (e) => events.push(e) });
    expect(calls).not.toContain('b:check');
    expect(results[0]).toMatchObject({ status: 'failed', error: { message: 'it broke', where: 'primary h', fix: 'fix it' } });
    expect(results[1].status).toBe('skipped');
    expect(events.filter((e) => e.type === 'step-end')).toHaveLength(2);
  });
});
