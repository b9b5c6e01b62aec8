import { WizardError } from '../src/errors.js';
import type { Privilege } from '../src/remote/commands.js';
import { where, type ChangeRecord, type Node, type PlannedAction } from './contract.js';
import { unifiedDiff } from './lib/config-files.js';
import { hbaTag, taggedLineNumbers } from './lib/hba-rules.js';
import { fileOwner, liveSetting, query, replaceHbaFile } from './lib/live-server.js';
import { satisfiable, type SyncList } from '../src/facts/sync-standbys.js';
import { applySync, readSyncState, settingOf, streamingNames, syncActions, verifySync, type SyncChange } from './sync-standbys.js';
import { pollUntil } from './lib/poll.js';

/**
 * Taking a named standby off the primary, in the order that never leaves commits waiting or
 * the standby half admitted: out of synchronous_standby_names first (reloaded, and a canary
 * commit proves commits do not wait for it), then its pg_hba.conf line (so it cannot connect
 * again), then its walsender, then its slot (the WAL it held is released). Its own host is
 * not touched: it may be gone.
 */
export interface Removal {
  name: string;
  hbaFile: string;
  owner: Privilege;
  hbaText: string;
  /** The hba file without the lines setup tagged with this name. */
  hbaAfter: string;
  taggedLines: number[];
  /** Walsenders serving it: holding its slot or reporting its name as application_name. */
  walsenders: { pid: number; client: string }[];
  slotExists: boolean;
  /** When synchronous_standby_names names it: the list without it (first of all), and whether the other standbys streaming now satisfy that list. */
  sync?: { before: string; change: SyncChange; satisfied: boolean };
}

/**
 * synchronous_standby_names without `name`: the same method, n lowered to the names left, or
 * off when none is left. A `*` list stays as it is (it names no one in particular).
 */
export function listWithout(list: SyncList, name: string): SyncChange | undefined {
  if (list.names.includes('*')) return undefined;
  const names = list.names.filter((entry) => entry.toLowerCase() !== name.toLowerCase());
  if (names.length === list.names.length) return undefined;
  return names.length === 0 ? {} : { list: { ...list, names, count: Math.min(list.count, names.length) } };
}

async function syncRemoval(primary: Node, name: string): Promise<Removal['sync']> {
  const state = await readSyncState(primary);
  if (!state.list) return undefined;
  const change = listWithout(state.list, name);
  if (!change) return undefined;
  const others = streamingNames(state).filter((other) => other.toLowerCase() !== name.toLowerCase());
  return { before: state.setting, change, satisfied: !change.list || satisfiable(change.list, others) };
}

export async function readRemoval(primary: Node, name: string): Promise<Removal> {
  const [sync, hbaFile, walsenders, slots] = await Promise.all([
    syncRemoval(primary, name),
    liveSetting(primary, 'hba_file'),
    query<{ pid: number; client: string }>(
      primary,
      `SELECT r.pid, coalesce(nullif(r.application_name, ''), 'unnamed') || ' from ' || coalesce(host(r.client_addr), 'a local socket') AS client
         FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
        WHERE s.slot_name = $1 OR r.application_name = $1 ORDER BY r.pid`,
      [name],
    ),
    query<{ slot_type: string }>(primary, 'SELECT slot_type FROM pg_replication_slots WHERE slot_name = $1', [name]),
  ]);
  if (slots[0] && slots[0].slot_type !== 'physical') {
    throw new WizardError(`replication slot "${name}" is a ${slots[0].slot_type} slot, not a standby's`, where(primary), 'name the standby to remove; a logical slot belongs to something else');
  }
  const [owner, hbaText] = await Promise.all([fileOwner(primary, hbaFile), primary.host.readFile(hbaFile, 'postgres')]);
  if (hbaText === null) throw new WizardError(`hba_file ${hbaFile} does not exist`, where(primary), 'restore it (the server runs with the rules it loaded before) and run again');
  const taggedLines = taggedLineNumbers(hbaText, name);
  const hbaAfter = hbaText
    .split('\n')
    .filter((_, i) => !taggedLines.includes(i + 1))
    .join('\n');
  return { name, hbaFile, owner, hbaText, hbaAfter, taggedLines, walsenders, slotExists: slots.length > 0, sync };
}

export const nothingToRemove = (removal: Removal) => removal.taggedLines.length === 0 && removal.walsenders.length === 0 && !removal.slotExists && !removal.sync;

/** Said before the removal and confirmed twice interactively: after it, commits wait for standbys that do not stream. */
export function removalWarning(removal: Removal): string | undefined {
  const { sync } = removal;
  if (!sync || sync.satisfied) return undefined;
  return `synchronous_standby_names = '${settingOf(sync.change)}' without ${removal.name} asks each commit to wait for more standbys than stream now: every commit on the primary will wait (hang) until enough of them stream again`;
}

const endSql = 'SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE pid = ANY($1)';
const dropSql = 'SELECT pg_drop_replication_slot($1)';

/** The actions, in the order they run. */
export async function removalPlan(primary: Node, removal: Removal): Promise<PlannedAction[]> {
  const { name } = removal;
  const actions: PlannedAction[] = [];
  if (removal.sync) {
    const [set, reload] = await syncActions(primary, removal.sync.change);
    actions.push(
      { ...set, summary: `take ${name} out of synchronous_standby_names = '${removal.sync.before}' first: ${set.summary}` },
      { ...reload, summary: `${reload.summary}; then a canary commit must return without ${name}` },
    );
  }
  if (removal.taggedLines.length > 0) {
    actions.push(
      { side: 'primary', summary: `remove the pg_hba.conf line${removal.taggedLines.length > 1 ? 's' : ''} setup wrote for ${name} (${hbaTag(name)}) from ${removal.hbaFile}, so it cannot connect again (the file is backed up first)`, diff: unifiedDiff(removal.hbaFile, removal.hbaText, removal.hbaAfter) },
      { side: 'primary', summary: 'reload the configuration', sql: 'SELECT pg_reload_conf();' },
    );
  }
  if (removal.walsenders.length > 0) {
    const pids = removal.walsenders.map((sender) => sender.pid);
    actions.push({ side: 'primary', summary: `end the replication connection of ${removal.walsenders.map((sender) => `${sender.client} (pid ${sender.pid})`).join(', ')}`, sql: endSql.replace('$1', `'{${pids.join(',')}}'`) });
  }
  if (removal.slotExists) {
    actions.push({ side: 'primary', summary: `drop replication slot "${name}": the WAL it holds back is released`, sql: dropSql.replace('$1', `'${name}'`) });
  }
  return actions;
}

const slotHolder = async (primary: Node, name: string) =>
  (await query<{ active_pid: number | null }>(primary, 'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [name]))[0]?.active_pid ?? null;

/** Runs the plan in its order; returns what was done. */
export async function applyRemoval(primary: Node, removal: Removal, recordChange: (change: ChangeRecord) => void, signal: AbortSignal): Promise<string[]> {
  const done: string[] = [];
  const { name } = removal;
  if (removal.sync) {
    const { change, before, satisfied } = removal.sync;
    await applySync(primary, change, recordChange);
    done.push(`synchronous_standby_names = '${settingOf(change)}' (was '${before}'), reloaded`);
    // A list the others cannot satisfy was confirmed as such: a canary would only wait.
    if (satisfied) done.push(...(await verifySync(primary, change.list, signal)));
  }
  if (removal.taggedLines.length > 0) {
    const { backup, errors } = await replaceHbaFile(primary, 'primary', removal.hbaFile, removal.hbaAfter, removal.owner, recordChange);
    if (errors.length > 0) {
      throw new WizardError(`${removal.hbaFile} without ${name}'s line does not parse; it was restored from ${backup}`, where(primary), `remove the line ending in "${hbaTag(name)}" by hand, then reload`);
    }
    done.push(`removed ${name}'s pg_hba.conf line from ${removal.hbaFile} and reloaded (backup ${backup})`);
  }
  if (removal.walsenders.length > 0) {
    await query(primary, endSql, [removal.walsenders.map((sender) => sender.pid)]);
    done.push(`ended the replication connection of ${removal.walsenders.map((sender) => sender.client).join(', ')}`);
  }
  if (removal.slotExists) {
    // The walsender ends moments after it is signalled; the slot is free once it has.
    const free = await pollUntil(async () => ((await slotHolder(primary, name)) === null ? true : undefined), { timeoutMs: 10_000, intervalMs: 50, signal });
    if (!free) {
      throw new WizardError(
        `replication slot "${name}" is still held by pid ${await slotHolder(primary, name)}`,
        where(primary),
        'stop that standby (another pg_hba.conf rule may still let it in) or end the process holding the slot, then run again',
      );
    }
    await query(primary, dropSql, [name]);
    recordChange({ side: 'primary', what: `dropped replication slot ${name}` });
    done.push(`dropped replication slot "${name}"`);
  }
  return done;
}
