import { describe, expect, it } from 'vitest';
import type { Step, StepContext } from '../../steps/contract.js';
import { sayingWhatIsLeft } from '../../steps/lib/cut-short.js';
import { ConnectionLost } from '../../src/errors.js';
import { defaultDeadAfterMs, keepalive } from '../../src/remote/connect.js';
import { runSteps } from '../../src/setup/runner.js';

const lost = () => new ConnectionLost('standby', 'admin@db2', 'it answered nothing for 40 s (network down, or the host stopped)');

function stepLosing(where: 'check' | 'apply', cutShort?: string): Step {
  return {
    id: 'lossy',
    title: 'Lossy step',
    check: async () => {
      if (where === 'check') throw lost();
      return { done: false, detail: 'to do' };
    },
    plan: async () => [],
    apply: async () => {
      throw lost();
    },
    verify: async () => 'verified',
    ...(cutShort ? { cutShort: () => cutShort } : {}),
  };
}

const run = (step: Step) => runSteps([step], () => ({}) as StepContext, { planOnly: false, emit: () => undefined });

describe('a lost SSH connection', () => {
  it('is given up on after the bound README states, ten keepalives apart', () => {
    expect(keepalive()).toEqual({ intervalMs: 4000, countMax: 9, deadAfterMs: defaultDeadAfterMs });
    expect(keepalive(6000)).toEqual({ intervalMs: 1000, countMax: 5, deadAfterMs: 6000 });
  });

  it('says which host, why, what the step left and what to do', async () => {
    const [result] = await run(stepLosing('apply', 'The standby was being started: it may be starting'));
    expect(result.status).toBe('failed');
    expect(result.error?.message).toBe(
      'lost the SSH connection to the standby admin@db2: it answered nothing for 40 s (network down, or the host stopped). The standby was being started: it may be starting',
    );
    expect(result.error?.where).toBe('standby admin@db2');
    expect(result.error?.fix).toContain('when "ssh admin@db2" works again, run the same command again');
  });

  it('before the step changed anything, says so', async () => {
    const [result] = await run(stepLosing('check'));
    expect(result.error?.message).toMatch(/\. nothing had been changed yet$/);
  });

  it('keeps the state the step itself gave', async () => {
    const error = await sayingWhatIsLeft(() => Promise.reject(lost()), () => 'the copy is in place').catch((e: unknown) => e);
    const [result] = await run({ ...stepLosing('apply'), apply: () => Promise.reject(error) });
    expect(result.error?.message).toMatch(/\. the copy is in place$/);
  });
});
