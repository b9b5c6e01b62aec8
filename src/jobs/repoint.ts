import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { serverHome } from '../facts/host.js';
import { defaultRoleName } from '../setup/prepare.js';
import { prepareSetup, runSetup, type SetupOutcome } from '../setup/setup.js';
import { oldUpstreamAt } from '../setup/old-upstream.js';
import { findPassfileEntry } from '../../steps/lib/passfile.js';
import type { SetupJob } from './setup.js';

/** Setup's inputs without a review of its own: the re-point asks once, with its plan. pair.upstream is the broken upstream. */
export type RepointJob = Omit<SetupJob, 'review'>;

/**
 * doctor --fix for a broken hop before a cascaded standby: the standby is pointed at the
 * primary instead, with setup's steps and the primary in the upstream's place. It is a copy
 * of the primary already, so nothing is cloned: the role, settings, pg_hba.conf line and slot
 * on the primary, then the standby's recovery settings, its restart, and the proof; then its
 * slot on the old upstream is dropped, a step of the plan (left, and said so, when that does not answer). Asked
 * first (headless: --yes); undefined when the operator said no, nothing changed then.
 */
export async function repointJob({ pair, facts, options, io, emit, signal }: RepointJob): Promise<SetupOutcome | undefined> {
  const direct = { pair: { ...pair, upstream: undefined }, facts: { ...facts, upstream: undefined } };
  const run = { ...direct, options: { ...options, upstream: undefined, password: options.password ?? (await upstreamPassword(pair, facts, options)) }, io, signal };
  const settings = await prepareSetup(run.pair, run.facts, run.options, io);
  const oldUpstream = await oldUpstreamAt(pair.upstream!, facts.upstream!, settings.slotName);
  emit({ type: 'phase', phase: 'planning' });
  const plan = await runSetup({ ...run, settings, oldUpstream, emit: () => undefined, planOnly: true });
  if (!plan.ok) return plan;
  const question = `Re-point standby ${settings.slotName} (${pair.standby.label}) from its upstream ${pair.upstream!.label} to the primary ${pair.primary.label}?`;
  if (!options.yes && !(await io.reviewPlan({ kind: 'setup', heading: [question], steps: plan.steps, footer: [] }))) return undefined;
  emit({ type: 'phase', phase: 'applying' });
  return runSetup({ ...run, settings, oldUpstream, emit, planOnly: false });
}

/** The role is shared along the chain: the password the standby stored for its upstream logs in at the primary too. */
async function upstreamPassword(pair: Pair, facts: PairFacts, options: Options): Promise<string | undefined> {
  const passfile = await pair.standby.readFile(`${await serverHome(pair.standby)}/.pgpass`, 'postgres');
  const port = facts.upstream?.cluster?.ref.port;
  if (passfile === null || port === undefined) return undefined;
  return findPassfileEntry(passfile, pair.upstream!.address, port, options.role ?? defaultRoleName);
}
