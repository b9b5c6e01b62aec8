import type { ChangeRecord, PlannedAction, SetupSettings, StepContext } from '../../steps/contract.js';
import { setupSteps } from '../../steps/index.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { resolveSettings, toNode } from './prepare.js';
import { runSteps, type RunnerEvent, type StepResult } from './runner.js';

export interface SetupOutcome {
  ok: boolean;
  planOnly: boolean;
  steps: StepResult[];
  changes: ChangeRecord[];
  /** Everything the steps were told, except the password. */
  settings: Omit<SetupSettings, 'password'>;
}

/**
 * Who may say yes to a destructive action. A primary restart needs --restart-primary
 * headless (it is a production server); replacing the standby's data needs --yes, or the
 * operator typing the standby's host name.
 */
export async function confirmDestructive(action: PlannedAction, options: Options, io: Io, standbyName: string): Promise<boolean> {
  if (action.destructive === 'restart-primary') {
    if (options.restartPrimary) return true;
    if (!io.interactive || options.yes) return false;
    return io.confirm(`${action.summary}. Restart the primary now?`, '--restart-primary');
  }
  if (options.yes) return true;
  return io.confirm(`${action.summary}. This replaces the standby's data directory.`, '--yes', standbyName);
}

export interface SetupRun {
  pair: Pair;
  facts: PairFacts;
  settings: SetupSettings;
  options: Options;
  io: Io;
  emit: (event: RunnerEvent) => void;
  signal: AbortSignal;
  planOnly: boolean;
}

/** Settings are resolved once (the password asked once), then planned and applied with them. */
export const prepareSetup = (pair: Pair, facts: PairFacts, options: Options, io: Io) => resolveSettings(pair, facts, options, io);

export async function runSetup({ pair, facts, settings, options, io, emit, signal, planOnly }: SetupRun): Promise<SetupOutcome> {
  const primary = toNode(pair.primary, facts.primary);
  const standby = toNode(pair.standby, facts.standby);
  const changes: ChangeRecord[] = [];
  const contextFor = (stepId: string): StepContext => ({
    primary,
    standby,
    settings,
    signal,
    confirm: (action) => confirmDestructive(action, options, io, pair.standby.address),
    progress: (progress) => emit({ type: 'progress', progress }),
    note: (line) => emit({ type: 'note', id: stepId, line }),
    recordChange: (change) => changes.push(change),
  });
  const steps = await runSteps(setupSteps, contextFor, { planOnly, emit });
  const { password: _secret, ...shown } = settings;
  return { ok: steps.every((s) => s.status !== 'failed'), planOnly, steps, changes, settings: shown };
}
