import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { serverHome } from '../facts/host.js';
import { defaultRoleName } from '../setup/prepare.js';
import { prepareSetup, runSetup, type SetupOutcome } from '../setup/setup.js';
import { toNode } from '../../steps/contract.js';
import { query } from '../../steps/lib/live-server.js';
import { findPassfileEntry } from '../../steps/lib/passfile.js';
import { pollUntil } from '../../steps/lib/poll.js';
import type { SetupJob } from './setup.js';

/** How long the standby's old connection to its upstream may take to end after its restart. */
const slotReleaseMs = 15_000;

/** Setup's inputs without a review of its own: the re-point asks once, with its plan. pair.upstream is the broken upstream. */
export type RepointJob = Omit<SetupJob, 'review'>;

/**
 * doctor --fix for a broken hop before a cascaded standby: the standby is pointed at the
 * primary instead, with setup's steps and the primary in the upstream's place. It is a copy
 * of the primary already, so nothing is cloned: the role, settings, pg_hba.conf line and slot
 * on the primary, then the standby's recovery settings, its restart, and the proof; then its
 * slot on the old upstream is dropped (left, and said so, when that does not answer). Asked
 * first (headless: --yes); undefined when the operator said no, nothing changed then.
 */
export async function repointJob({ pair, facts, options, io, emit, signal }: RepointJob): Promise<SetupOutcome | undefined> {
  const direct = { pair: { ...pair, upstream: undefined }, facts: { ...facts, upstream: undefined } };
  const run = { ...direct, options: { ...options, upstream: undefined, password: options.password ?? (await upstreamPassword(pair, facts, options)) }, io, signal };
  const settings = await prepareSetup(run.pair, run.facts, run.options, io);
  emit({ type: 'phase', phase: 'planning' });
  const plan = await runSetup({ ...run, settings, emit: () => undefined, planOnly: true });
  if (!plan.ok) return plan;
  const question = `Re-point standby ${settings.slotName} (${pair.standby.label}) from its upstream ${pair.upstream!.label} to the primary ${pair.primary.label}?`;
  if (!options.yes && !(await io.reviewPlan({ kind: 'setup', heading: [question], steps: plan.steps, footer: [] }))) return undefined;
  emit({ type: 'phase', phase: 'applying' });
  const outcome = await runSetup({ ...run, settings, emit, planOnly: false });
  if (!outcome.ok) return outcome;
  const released = await releaseUpstreamSlot(pair, facts, settings.slotName, signal);
  if ('dropped' in released) outcome.changes.push({ side: 'standby', what: released.dropped });
  if ('left' in released) outcome.notes = [...(outcome.notes ?? []), released.left];
  return outcome;
}

/**
 * The standby's slot on its old upstream holds WAL there for a standby that no longer comes:
 * dropped once the standby's old connection has ended; when the old upstream does not answer,
 * left, and said so with the statement to run there later.
 */
async function releaseUpstreamSlot(pair: Pair, facts: PairFacts, slot: string, signal: AbortSignal): Promise<{ dropped: string } | { left: string } | { none: true }> {
  const label = pair.upstream!.label;
  const drop = `SELECT pg_drop_replication_slot('${slot}')`;
  try {
    const upstream = toNode(pair.upstream!, facts.upstream!);
    const inactive = await pollUntil(
      async () => {
        const [row] = await query<{ active: boolean }>(upstream, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
        return row === undefined ? 'gone' : row.active ? undefined : 'inactive';
      },
      { timeoutMs: slotReleaseMs, intervalMs: 200, signal },
    );
    if (inactive === 'gone') return { none: true };
    if (inactive === 'inactive') {
      await query(upstream, 'SELECT pg_drop_replication_slot($1)', [slot]);
      return { dropped: `dropped slot ${slot} on the old upstream ${label}: it no longer holds WAL there` };
    }
    return { left: `slot ${slot} on the old upstream ${label} is still in use after ${slotReleaseMs / 1000} s and was left; once it is inactive, run ${drop} there, or it keeps WAL there` };
  } catch (error) {
    if (signal.aborted) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    return { left: `slot ${slot} is left on the old upstream ${label}, which does not answer (${reason}); once it runs again, run ${drop} there, or it keeps WAL there for a standby that no longer comes` };
  }
}

/** The role is shared along the chain: the password the standby stored for its upstream logs in at the primary too. */
async function upstreamPassword(pair: Pair, facts: PairFacts, options: Options): Promise<string | undefined> {
  const passfile = await pair.standby.readFile(`${await serverHome(pair.standby)}/.pgpass`, 'postgres');
  const port = facts.upstream?.cluster?.ref.port;
  if (passfile === null || port === undefined) return undefined;
  return findPassfileEntry(passfile, pair.upstream!.address, port, options.role ?? defaultRoleName);
}
