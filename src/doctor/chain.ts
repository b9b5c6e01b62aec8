import type { Node } from '../../steps/contract.js';
import { catalog } from '../catalog/catalog.js';
import { runningAddress } from '../facts/live.js';
import type { Diagnosis, Finding } from './diagnose.js';
import type { DoctorFacts } from './facts.js';

/**
 * A cascade (primary → upstream → standby) has two hops. Doctor diagnoses the standby against
 * its upstream like any pair; this says first whether the hop before it works: the upstream
 * runs and its own WAL receiver streams from the primary. When it does not, the standby gets
 * no new WAL whatever its own state, and what the pair diagnosis would blame on the upstream
 * as a "primary" (unreachable, its slot, its settings) follows from that.
 */
export interface UpstreamHop {
  label: string;
  clusterId: string;
  /** Its cluster answers SQL now. */
  running: boolean;
  /** Its pg_stat_wal_receiver.status (null: no WAL receiver). */
  receiverStatus: string | null;
  /** Why it could not be read, when it could not. */
  problem?: string;
}

export async function readUpstreamHop(upstream: Node): Promise<UpstreamHop> {
  const hop = { label: upstream.host.label, clusterId: upstream.cluster.id };
  try {
    const address = await runningAddress(upstream);
    if (!address) return { ...hop, running: false, receiverStatus: null, problem: `cluster ${upstream.cluster.id} is not running` };
    const [row] = await upstream.host.sql<{ status: string | null }>(address, 'SELECT (SELECT status FROM pg_stat_wal_receiver) AS status');
    return { ...hop, running: true, receiverStatus: row.status };
  } catch (error) {
    return { ...hop, running: false, receiverStatus: null, problem: error instanceof Error ? error.message : String(error) };
  }
}

/** The diagnosis of the standby against its upstream, with the broken hop before it said first. */
export function judgeChain(judged: Diagnosis, facts: DoctorFacts, hop: UpstreamHop): Diagnosis {
  // "Replication now" names the upstream, and its own hop from the primary, where a pair shows its primary.
  const diagnosis = { ...judged, replication: { ...judged.replication, upstream: { label: hop.label, receiverStatus: hop.receiverStatus } } };
  if (hop.running && hop.receiverStatus === 'streaming') return diagnosis;
  const spec = catalog[hop.running ? 'upstream-not-streaming' : 'upstream-down'];
  const { relationship, standby } = facts;
  const follows = `${relationship.params.hostaddr ?? relationship.params.host ?? '?'}:${relationship.params.port ?? '?'}`;
  const chain: Finding = {
    id: spec.id,
    severity: spec.severity,
    host: spec.host,
    title: spec.title,
    detail: hop.running
      ? `the upstream ${hop.label} (${hop.clusterId}) runs, but its WAL receiver is ${hop.receiverStatus ?? 'not running'}: the hop primary → upstream is broken`
      : `the upstream ${hop.label} (${hop.clusterId}) is down (${hop.problem}): the hop upstream → standby is broken at the upstream, not at the standby`,
    evidence: [
      { host: 'upstream', source: 'its cluster, read now', lines: [`${standby.clock}  ${hop.running ? `pg_stat_wal_receiver.status = ${hop.receiverStatus ?? '(no row)'}` : hop.problem!}`] },
      {
        host: 'standby',
        source: 'its walreceiver and primary_conninfo',
        lines: [`${standby.clock}  ${standby.running ? `running, WAL receiver ${diagnosis.replication.standby.receiverStatus ?? 'not running'}` : 'not running'}; primary_conninfo names ${follows}, the upstream`],
      },
    ],
    fix: { text: spec.fix, fixable: true, action: spec.autoFix, repairs: [] },
  };
  // Down, the upstream explains every finding about it as the standby's "primary": the standby's own stay.
  const own = hop.running ? diagnosis.findings : diagnosis.findings.filter((finding) => finding.host === 'standby');
  return { ...diagnosis, healthy: false, findings: [chain, ...own] };
}

/** The finding that makes doctor --fix offer to re-point the standby, if any. */
export const brokenHop = (diagnosis: Diagnosis) => diagnosis.findings.find((finding) => finding.id === 'upstream-down' || finding.id === 'upstream-not-streaming');
