import { WizardError } from '../src/errors.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from './contract.js';
import { query } from './lib/live-server.js';

/**
 * A physical replication slot for this standby, created with WAL reserved at once, so the
 * primary keeps every segment from before the clone starts until the standby has streamed it.
 */

type SlotRow = {
  slot_type: string;
  active_pid: number | null;
  restart_lsn: string | null;
  /** reserved/extended/unreserved/lost, PostgreSQL 13+. */
  wal_status: string | null;
};

async function readSlot(ctx: StepContext): Promise<SlotRow | undefined> {
  const walStatus = ctx.primary.cluster.major >= 13 ? 'wal_status' : 'NULL::text AS wal_status';
  const [slot] = await query<SlotRow>(
    ctx.primary,
    `SELECT slot_type, active_pid, restart_lsn::text, ${walStatus} FROM pg_replication_slots WHERE slot_name = $1 AND NOT temporary`,
    [ctx.settings.slotName],
  );
  return slot;
}

/** Why an existing physical slot cannot be used as it is, or undefined when it can. */
function unusable(slot: SlotRow): string | undefined {
  if (slot.wal_status === 'lost') return 'has lost WAL it was meant to keep (wal_status lost)';
  if (slot.restart_lsn === null) return 'reserves no WAL (restart_lsn is null)';
  return undefined;
}

function refuseOtherSlotType(ctx: StepContext, slot: SlotRow | undefined): void {
  if (!slot || slot.slot_type === 'physical') return;
  throw new WizardError(
    `replication slot "${ctx.settings.slotName}" exists but is a ${slot.slot_type} slot`,
    where(ctx.primary),
    'it belongs to something else (logical decoding); pick another name with --slot',
  );
}

/** PostgreSQL's own slot errors, with what to do about each. */
const slotErrorFixes: [RegExp, string][] = [
  [/all replication slots are in use/, 'drop slots nobody uses (SELECT slot_name, active FROM pg_replication_slots; SELECT pg_drop_replication_slot(name)) or raise max_replication_slots (needs a restart)'],
  [/max_replication_slots > 0/, 'set max_replication_slots to at least 1 and restart the primary (the primary-settings step does this)'],
  [/wal_level >= replica/, 'set wal_level = replica and restart the primary (the primary-settings step does this)'],
  [/is active for PID/, 'a walsender still uses the slot: stop the standby that streams from it, or SELECT pg_terminate_backend(pid) for a stale one, and run again'],
  [/already exists/, 'another session created it at the same moment; run again'],
];

async function runSlotSql(ctx: StepContext, text: string): Promise<void> {
  try {
    await query(ctx.primary, text, [ctx.settings.slotName]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const fix = slotErrorFixes.find(([pattern]) => pattern.test(message))?.[1];
    if (!fix) throw error;
    throw new WizardError(message, where(ctx.primary), fix);
  }
}

/**
 * Why this standby's name (its slot and application_name) is another standby's, or undefined:
 * the primary streams to a client from another address that holds the slot of that name or
 * reports it as its application_name. Cloning under that name would take the slot from it.
 */
export async function nameTakenElsewhere(ctx: StepContext): Promise<string | undefined> {
  if (!ctx.primary.address) return undefined;
  const name = ctx.settings.slotName;
  const [taken] = await query<{ application_name: string; client_addr: string | null; slot_name: string | null }>(
    ctx.primary,
    `SELECT r.application_name, host(r.client_addr) AS client_addr, s.slot_name
       FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
      WHERE (s.slot_name = $1 OR r.application_name = $1) AND host(r.client_addr) IS DISTINCT FROM $2`,
    [name, ctx.settings.standbyAddress],
  );
  if (!taken) return undefined;
  const holds = taken.slot_name === name ? `slot ${name}` : `application_name ${name}`;
  return `the name ${name} is taken: the primary streams to ${taken.application_name || 'a standby'} from ${taken.client_addr ?? 'a local socket'}, which holds ${holds}, not to this standby (${ctx.settings.standbyAddress})`;
}

const dropSql = 'SELECT pg_drop_replication_slot($1)';
// immediately_reserve = true: WAL is kept from this moment, before the clone starts.
const createSql = 'SELECT pg_create_physical_replication_slot($1, true)';

export const replicationSlotStep: Step = {
  id: 'replication-slot',
  title: 'Replication slot on the primary',
  upstreamTitle: 'Replication slot on the upstream',

  async check(ctx): Promise<CheckResult> {
    const slot = await readSlot(ctx);
    const name = ctx.settings.slotName;
    if (!slot) return { done: false, detail: `no replication slot "${name}"` };
    if (slot.slot_type !== 'physical') return { done: false, detail: `slot "${name}" is a ${slot.slot_type} slot` };
    const problem = unusable(slot);
    return problem
      ? { done: false, detail: `slot "${name}" ${problem}` }
      : { done: true, detail: `physical slot "${name}" keeps WAL from ${slot.restart_lsn}${slot.active_pid ? ` (in use by pid ${slot.active_pid})` : ''}` };
  },

  async plan(ctx): Promise<PlannedAction[]> {
    const slot = await readSlot(ctx);
    refuseOtherSlotType(ctx, slot);
    const name = ctx.settings.slotName;
    const create: PlannedAction = { side: 'primary', summary: `create physical slot "${name}", reserving WAL from now on`, sql: createSql.replace('$1', `'${name}'`) };
    if (!slot) return [create];
    return [{ side: 'primary', summary: `slot "${name}" ${unusable(slot)}: drop it and create it again`, sql: dropSql.replace('$1', `'${name}'`) }, create];
  },

  async apply(ctx): Promise<string> {
    const slot = await readSlot(ctx);
    refuseOtherSlotType(ctx, slot);
    const name = ctx.settings.slotName;
    if (slot && !unusable(slot)) return `slot "${name}" was already usable`;
    if (slot) {
      ctx.note(`dropping slot "${name}": it ${unusable(slot)}`);
      await runSlotSql(ctx, dropSql);
    }
    await runSlotSql(ctx, createSql);
    ctx.recordChange({ side: 'primary', what: `created physical replication slot ${name}`, undo: `SELECT pg_drop_replication_slot('${name}')` });
    return `${slot ? 'recreated' : 'created'} slot "${name}"`;
  },

  async verify(ctx): Promise<string> {
    const slot = await readSlot(ctx);
    const problem = !slot ? 'does not exist' : slot.slot_type !== 'physical' ? `is a ${slot.slot_type} slot` : unusable(slot);
    if (problem) {
      throw new WizardError(
        `replication slot "${ctx.settings.slotName}" ${problem} right after it was created`,
        where(ctx.primary),
        'something dropped or invalidated it at the same time (check max_slot_wal_keep_size and other tools), then run again',
      );
    }
    return `pg_replication_slots: "${ctx.settings.slotName}" is physical and keeps WAL from ${slot!.restart_lsn}`;
  },
};
