import { toNode, type Node, type SetupSettings } from '../../steps/contract.js';
import { dropSlotSql } from '../../steps/drop-slots.js';
import { query } from '../../steps/lib/live-server.js';
import { usesStandbySignal, walreceiverConfig } from '../facts/replication.js';
import type { HostFacts } from '../facts/host.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Host } from '../remote/host.js';
import { parseTarget } from '../remote/target.js';
import { openListedStandby, type Pair, type PairFacts } from '../session.js';

/**
 * The server a standby streamed from before a run points it at another upstream (the primary,
 * or another standby), and the standby's slot there: dropped by the run's last step when that
 * server answers, else left and said so.
 */
export interface OldUpstream {
  slot: string;
  label: string;
  /** Set when it answers SQL: the drop is a step of the run, against it. */
  node?: Node;
  /** Why it cannot be reached, when it cannot. */
  problem?: string;
}

/** The result's line for a slot the run could not drop: where it is, and the statement to run there later. */
export const slotLeftNote = (old: OldUpstream) =>
  `slot ${old.slot} is left on the old upstream ${old.label}: ${old.problem}; once it answers, run ${dropSlotSql(old.slot)} there, or it keeps WAL there for a standby that no longer comes`;

const doesNotAnswer = (error: unknown) => `it does not answer (${error instanceof Error ? error.message : String(error)})`;

/** The old upstream as a run sees it: its node when its cluster answers SQL now, else why not. */
export async function oldUpstreamAt(host: Host, facts: HostFacts, slot: string): Promise<OldUpstream> {
  const old = { slot, label: host.label };
  try {
    const node = toNode(host, facts);
    await query(node, 'SELECT 1');
    return { ...old, node };
  } catch (error) {
    return { ...old, problem: doesNotAnswer(error) };
  }
}

/**
 * Whom the standby streams from now, when this run points it elsewhere: read from its
 * primary_conninfo and primary_slot_name, matched to the primary or to a standby of the config
 * file's list (connected for the run; `close` ends that connection). Undefined when the standby
 * has no slot, already streams from the server this run points it at, or from one the run
 * cannot name.
 */
export async function findOldUpstream(pair: Pair, facts: PairFacts, settings: SetupSettings, options: Options, io: Io): Promise<{ old?: OldUpstream; close(): Promise<void> }> {
  const none = { close: async () => undefined };
  const cluster = facts.standby.cluster;
  // A server out of recovery (a fresh cluster to clone into) follows nobody.
  if (!cluster || cluster.inRecovery === false) return none;
  const { major } = cluster.ref;
  // Up to PG 11 whom a standby follows is in its recovery.conf, not in its settings.
  const recoveryConf = usesStandbySignal(major) ? null : await pair.standby.readFile(`${cluster.dataDirectory}/recovery.conf`, 'postgres');
  const configured = Object.fromEntries(Object.entries(cluster.settings).map(([name, setting]) => [name, setting.value]));
  const { slotName: slot, params } = walreceiverConfig(major, configured, recoveryConf);
  const from = params.hostaddr ?? params.host;
  if (!slot || !from || from === settings.primaryAddress) return none;
  // The server this run points it at, reached at another address, is no old upstream.
  if ([facts.primary.address, options.primaryAddress].includes(from)) return pair.upstream ? { old: await oldUpstreamAt(pair.primary, facts.primary, slot), ...none } : none;
  const entry = options.standbyList?.find((candidate) => [candidate.address, parseTarget(candidate.host, 'host').host].includes(from));
  // A server neither the primary nor of the list is not reached: its slot, if any, is not this run's to judge.
  if (!entry || entry.host === options.standby || entry.host === options.upstream) return none;
  try {
    const listed = await openListedStandby(options, io, entry);
    return { old: await oldUpstreamAt(listed.host, listed.facts, slot), close: () => listed.host.close() };
  } catch (error) {
    return { old: { slot, label: entry.host, problem: doesNotAnswer(error) }, ...none };
  }
}
