import type { Pair, PairFacts } from '../session.js';
import type { Options } from '../options.js';
import { toNode, type Node } from '../../steps/contract.js';
import { diagnose, type Diagnosis } from './diagnose.js';
import { gatherFacts, type DoctorFacts } from './facts.js';

/** The pair as doctor sees it: the clusters chosen at discovery, read live on every examination. */
export interface DoctorNodes {
  primary: Node;
  standby: Node;
}

export const doctorNodes = (pair: Pair, facts: PairFacts): DoctorNodes => ({ primary: toNode(pair.primary, facts.primary), standby: toNode(pair.standby, facts.standby) });

export interface Examination {
  facts: DoctorFacts;
  diagnosis: Diagnosis;
}

/** Reads both hosts afresh and judges what it read. */
export async function examine(nodes: DoctorNodes, options: Options): Promise<Examination> {
  const facts = await gatherFacts(nodes.primary, nodes.standby);
  return { facts, diagnosis: diagnose(facts, Boolean(options.password)) };
}
