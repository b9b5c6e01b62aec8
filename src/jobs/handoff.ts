import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { serverHome } from '../facts/host.js';
import type { Io } from '../io.js';
import type { NamedStandby, Options } from '../options.js';
import type { OpenNode } from '../session.js';
import { defaultRoleName, slotNameFor } from '../setup/prepare.js';
import { confirmDestructive } from '../setup/setup.js';
import { toNode, type ChangeRecord, type PlannedAction } from '../../steps/contract.js';
import { applyHandoff, handoffPlan, readHandoff, type HandoffNode } from '../../steps/repmgr-handoff.js';

export interface HandoffOutcome {
  planOnly: boolean;
  nodes: { name: string; id: number; host: string; upstreamId?: number }[];
  actions: PlannedAction[];
  done: string[];
  changes: ChangeRecord[];
}

/** The standbys a hand-off covers: the config file's list, or the one --standby names. */
export function handoffStandbys(options: Options): NamedStandby[] {
  if (options.standbyList) return options.standbyList;
  if (!options.standby) throw new UsageError('handoff needs the standbys', 'list them under "standbys:" in the --config file (each with name and host), or pass --standby [user@]host');
  return [{ name: options.slot ?? slotNameFor(options.standby.replace(/^.*@/, '').replace(/:\d+$/, '')), host: options.standby, cluster: options.standbyCluster }];
}

/**
 * Hands the topology to repmgr (README "Hand-off to repmgr"): read every node, show the plan,
 * confirm (headless: --yes), then write and register. `--plan` stops after the plan.
 */
export async function handoffJob(run: { primary: OpenNode; standbys: OpenNode[]; options: Options; io: Io; signal: AbortSignal; showPlan: (actions: PlannedAction[]) => void }): Promise<HandoffOutcome> {
  const { options, io } = run;
  // Upstreams register before the standbys cascaded from them: the list in chain order.
  const ordered = [run.primary, ...chainOrder(run.standbys)];
  const ids = new Map(ordered.map((n, i) => [n.name, i + 1]));
  const nodes: HandoffNode[] = ordered.map((n) => ({ name: n.name, id: ids.get(n.name)!, node: toNode(n.host, n.facts), ...(n.upstream ? { upstreamId: ids.get(n.upstream) } : {}) }));
  const homes = await Promise.all(ordered.map((n) => serverHome(n.host)));
  const handoff = await readHandoff(nodes, homes, options.repmgrPassword, options.role ?? defaultRoleName, () => randomBytes(24).toString('base64url'));
  const actions = handoffPlan(handoff);
  const outcome: HandoffOutcome = {
    planOnly: Boolean(options.plan),
    nodes: nodes.map((n) => ({ name: n.name, id: n.id, host: n.node.host.label, ...(n.upstreamId ? { upstreamId: n.upstreamId } : {}) })),
    actions,
    done: [],
    changes: [],
  };
  if (options.plan) return outcome;
  run.showPlan(actions);
  if (!options.yes && !(await io.confirm(`Hand ${nodes.map((n) => n.name).join(', ')} to repmgr as planned?`, '--yes'))) return outcome;
  // The primary's restart (for repmgrd's library) is asked as setup asks it (headless: --restart-primary); without it the setting waits for the next restart.
  const primaryRestart = actions.find((action) => action.destructive === 'restart-primary');
  const restartPrimary = primaryRestart ? await confirmDestructive(primaryRestart, options, io, nodes[0].name) : false;
  outcome.done = await applyHandoff(handoff, restartPrimary, (change) => outcome.changes.push(change), run.signal);
  return outcome;
}

function chainOrder(standbys: OpenNode[]): OpenNode[] {
  const ordered: OpenNode[] = [];
  const placed = (name: string | undefined) => name === undefined || ordered.some((n) => n.name === name);
  while (ordered.length < standbys.length) {
    const next = standbys.filter((n) => !ordered.includes(n) && placed(n.upstream));
    if (next.length === 0) throw new UsageError(`the upstreams of ${standbys.filter((n) => !ordered.includes(n)).map((n) => n.name).join(', ')} form a loop or name no standby of the list`, 'give each cascaded standby the name of another standby of the list as its upstream');
    ordered.push(...next);
  }
  return ordered;
}
