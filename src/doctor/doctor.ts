import type { Pair, PairFacts } from '../session.js';
import type { Options } from '../options.js';
import { toNode, type Node } from '../../steps/contract.js';
import { diagnose, type Diagnosis } from './diagnose.js';
import { gatherFacts, type DoctorFacts } from './facts.js';
import { judgeChain, readUpstreamHop } from './chain.js';
import { defaultRoleName } from '../setup/prepare.js';

/** The pair as doctor sees it: the clusters chosen at discovery, read live on every examination. */
export interface DoctorNodes {
  /** What the standby streams from: the primary, or in a cascade its upstream. */
  primary: Node;
  standby: Node;
  /** In a cascade: the upstream, whose own hop (running, streaming from the primary) is judged first. */
  upstream?: Node;
}

export function doctorNodes(pair: Pair, facts: PairFacts): DoctorNodes {
  const standby = toNode(pair.standby, facts.standby);
  if (!pair.upstream || !facts.upstream) return { primary: toNode(pair.primary, facts.primary), standby };
  const upstream = toNode(pair.upstream, facts.upstream);
  return { primary: upstream, standby, upstream };
}

export interface Examination {
  facts: DoctorFacts;
  diagnosis: Diagnosis;
}

/** Reads both hosts afresh and judges what it read. */
export async function examine(nodes: DoctorNodes, options: Options): Promise<Examination> {
  const [facts, hop] = await Promise.all([gatherFacts(nodes.primary, nodes.standby, options.role ?? defaultRoleName), nodes.upstream ? readUpstreamHop(nodes.upstream) : undefined]);
  const diagnosis = diagnose(facts, Boolean(options.password));
  return { facts, diagnosis: hop ? judgeChain(diagnosis, facts, hop) : diagnosis };
}
