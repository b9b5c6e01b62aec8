import pg from 'pg';
import { WizardError } from '../src/errors.js';
import { where, type Side, type Step, type StepContext } from './contract.js';
import { query } from './lib/live-server.js';
import { pollUntil } from './lib/poll.js';

/** The statement an operator runs by hand to drop a slot (shown, never run as text). */
export const dropSlotSql = (name: string) => `SELECT pg_drop_replication_slot(${pg.escapeLiteral(name)})`;

interface SlotDrop {
  id: string;
  title: string;
  /** The plan line for one slot on ctx.primary (the server that holds the slots). */
  summary: (ctx: StepContext, slot: string) => string;
  /** How long a slot may stay in use before the drop refuses (0: at once). */
  releasedWithinMs: number;
  /** Where the plan and the change are said to happen. */
  side: (ctx: StepContext) => Side;
}

/** Drops slots on ctx.primary, the server that holds them; refuses any that something streams from. */
function slotDropStep(names: readonly string[], drop: SlotDrop): Step {
  const existing = async (ctx: StepContext) =>
    query<{ slot_name: string; active: boolean }>(ctx.primary, 'SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = ANY($1)', [names]);
  return {
    id: drop.id,
    title: drop.title,
    async check(ctx) {
      const left = await existing(ctx);
      return { done: left.length === 0, detail: left.length === 0 ? `${names.join(', ')} already gone` : `to drop: ${left.map((s) => s.slot_name).join(', ')}` };
    },
    async plan(ctx) {
      return (await existing(ctx)).map((slot) => ({ side: drop.side(ctx), summary: drop.summary(ctx, slot.slot_name), sql: dropSlotSql(slot.slot_name) }));
    },
    async apply(ctx) {
      const inUse = async () => (await existing(ctx)).filter((slot) => slot.active);
      const released = await pollUntil(async () => ((await inUse()).length === 0 ? true : undefined), { timeoutMs: drop.releasedWithinMs, intervalMs: 200, signal: ctx.signal });
      if (!released) {
        const active = (await inUse()).map((s) => s.slot_name).join(', ');
        throw new WizardError(`slot ${active} is active: something streams from it now`, where(ctx.primary), `leave it, or stop what uses it first; once it is inactive, ${dropSlotSql(active)} drops it`);
      }
      const slots = await existing(ctx);
      for (const slot of slots) {
        await query(ctx.primary, 'SELECT pg_drop_replication_slot($1)', [slot.slot_name]);
        ctx.recordChange({ side: drop.side(ctx), what: `dropped replication slot ${slot.slot_name} on ${where(ctx.primary)}`, undo: `SELECT pg_create_physical_replication_slot(${pg.escapeLiteral(slot.slot_name)}, true) (the WAL it kept is gone)` });
      }
      return `dropped ${slots.map((s) => s.slot_name).join(', ')}`;
    },
    async verify(ctx) {
      const left = await existing(ctx);
      if (left.length > 0) throw new WizardError(`slot ${left.map((s) => s.slot_name).join(', ')} still exists`, where(ctx.primary), 'something recreated it; check other tools');
      return `pg_replication_slots on ${where(ctx.primary)}: ${names.join(', ')} gone`;
    },
  };
}

/** doctor --fix --drop-slot: drops the inactive slots the operator named; refuses any that became active meanwhile. */
export const dropSlotsStep = (names: readonly string[]): Step =>
  slotDropStep(names, {
    id: 'drop-slots',
    title: 'Drop inactive replication slots',
    summary: (_ctx, slot) => `drop inactive slot ${slot} (the primary releases the WAL it kept)`,
    releasedWithinMs: 0,
    side: () => 'primary',
  });

/** The standby's old connection ends moments after its restart, which frees its slot on the old upstream. */
const oldConnectionEndsMs = 15_000;

/**
 * After a standby is pointed at another upstream: its slot on the server it streamed from
 * before (ctx.primary here) would hold WAL there for a standby that no longer comes.
 */
export const dropOldUpstreamSlotStep = (slot: string): Step =>
  slotDropStep([slot], {
    id: 'drop-old-upstream-slot',
    title: "Drop the standby's slot on its old upstream",
    summary: (ctx) => `once the standby's old connection has ended, drop slot ${slot} on ${where(ctx.primary)}, which the standby streamed from before: it would keep WAL there for a standby that no longer comes`,
    releasedWithinMs: oldConnectionEndsMs,
    side: (ctx) => (ctx.primary.host.role === 'primary' ? 'primary' : 'standby'),
  });
