import { UsageError } from '../errors.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Host } from '../remote/host.js';
import type { HostFacts } from '../facts/host.js';
import { toNode, type ChangeRecord, type PlannedAction } from '../../steps/contract.js';
import { applyRemoval, nothingToRemove, readRemoval, removalPlan, removalWarning } from '../../steps/remove-standby.js';

export interface RemoveOutcome {
  name: string;
  planOnly: boolean;
  /** The plan, in the order it runs; empty when the primary holds nothing of that standby. */
  actions: PlannedAction[];
  /** Said before the removal: after it, commits would wait for standbys that do not stream. */
  warnings: string[];
  done: string[];
  changes: ChangeRecord[];
}

/**
 * Takes a named standby off the primary (README "Several standbys"): read what the primary
 * holds for it, show the plan, confirm, apply it in its order. Only the primary is connected.
 */
export async function removeJob(run: { host: Host; facts: HostFacts; options: Options; io: Io; signal: AbortSignal; showPlan: (actions: PlannedAction[], warnings: string[]) => void }): Promise<RemoveOutcome> {
  const { options, io } = run;
  const name = options.slot;
  if (!name) throw new UsageError('remove needs the name of the standby to take off the primary', "pass --standby NAME (an entry of the config file's standbys) or --slot NAME");
  const primary = toNode(run.host, run.facts);
  const removal = await readRemoval(primary, name);
  const actions = await removalPlan(primary, removal);
  const warning = removalWarning(removal);
  const outcome: RemoveOutcome = { name, planOnly: Boolean(options.plan), actions, warnings: warning ? [warning] : [], done: [], changes: [] };
  if (nothingToRemove(removal) || options.plan) return outcome;
  run.showPlan(actions, outcome.warnings);
  if (!options.yes && !(await io.confirm(`Take standby ${name} off the primary as planned?`, '--yes'))) return outcome;
  if (!options.yes && warning && !(await io.confirm(`Once more, knowing that ${warning}: take ${name} off?`, '--yes'))) return outcome;
  outcome.done = await applyRemoval(primary, removal, (change) => outcome.changes.push(change), run.signal);
  return outcome;
}
