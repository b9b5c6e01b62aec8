import { WizardError } from '../src/errors.js';
import type { AutoConfEntry } from '../src/facts/auto-conf.js';
import { eligibleStandbys, expectedSyncStates, formatSyncList, missingStandbys, parseSyncList, satisfiable, standbyNamed, type SyncList, type SynchronousCommit } from '../src/facts/sync-standbys.js';
import { where, type ChangeRecord, type CheckResult, type Node, type PlannedAction, type Step } from './contract.js';
import { alterSystem, alterSystemAction, autoConfPath } from './lib/alter-system.js';
import { liveAddress, query, reloadAndWait, restoreBackup } from './lib/live-server.js';
import { pollUntil } from './lib/poll.js';

/**
 * Synchronous replication on the primary: synchronous_standby_names (and, when the operator
 * chooses, synchronous_commit) set with ALTER SYSTEM and a reload (both take a reload, no
 * restart), then proven: pg_stat_replication's sync_state for every listed standby, and a
 * canary commit that must return within a bound. Commits that wait for standbys that are not
 * there wait for ever, so a list is set only while the standbys it names stream.
 */

export type SyncStandby = {
  name: string;
  clientAddr: string | null;
  state: string;
  syncState: string;
  flushLsn: string | null;
};

/** A session that waits in its commit for standbys (wait_event SyncRep). */
export type SyncWaiter = {
  pid: number;
  user: string;
  database: string;
  waitingSeconds: number;
  query: string;
};

export interface SyncState {
  setting: string;
  list?: SyncList;
  /** The server-wide synchronous_commit (what a session gets unless it sets its own). */
  synchronousCommit: string;
  standbys: SyncStandby[];
  waiting: SyncWaiter[];
}

export async function readSyncState(primary: Node): Promise<SyncState> {
  const [settings, standbys, waiting] = await Promise.all([
    query<{ names: string; commit: string }>(primary, "SELECT current_setting('synchronous_standby_names') AS names, (SELECT reset_val FROM pg_settings WHERE name = 'synchronous_commit') AS commit"),
    query<SyncStandby>(
      primary,
      `SELECT application_name AS name, host(client_addr) AS "clientAddr", state, sync_state AS "syncState", flush_lsn::text AS "flushLsn"
         FROM pg_stat_replication WHERE state <> 'backup' ORDER BY application_name`,
    ),
    query<SyncWaiter>(
      primary,
      `SELECT pid, coalesce(usename, '?') AS "user", coalesce(datname, '?') AS database,
              round(extract(epoch FROM now() - coalesce(xact_start, query_start)))::int AS "waitingSeconds", left(query, 200) AS query
         FROM pg_stat_activity WHERE wait_event = 'SyncRep' ORDER BY xact_start`,
    ),
  ]);
  const setting = settings[0].names;
  return { setting, list: parseSyncList(setting), synchronousCommit: settings[0].commit, standbys, waiting };
}

export const streamingNames = (state: SyncState) => state.standbys.filter((standby) => standby.state === 'streaming').map((standby) => standby.name);

/** What the builder, the removal and doctor's way out set: the list (none: synchronous replication off) and maybe synchronous_commit. */
export interface SyncChange {
  list?: SyncList;
  synchronousCommit?: SynchronousCommit;
}

export const settingOf = (change: SyncChange) => (change.list ? formatSyncList(change.list) : '');

/** An empty list, not RESET: a list in postgresql.conf would come back with a reset. */
const entries = (change: SyncChange): AutoConfEntry[] => [
  { name: 'synchronous_standby_names', value: settingOf(change) },
  ...(change.synchronousCommit ? [{ name: 'synchronous_commit', value: change.synchronousCommit }] : []),
];

export async function syncActions(primary: Node, change: SyncChange): Promise<PlannedAction[]> {
  return [
    await alterSystemAction(primary, entries(change), change.list ? '' : ': no commit waits for a standby any more'),
    { side: 'primary', summary: 'reload the configuration (no restart: both settings take a reload); commits waiting now are judged by the new list at once', sql: 'SELECT pg_reload_conf();' },
  ];
}

/** Refuses a list some of whose standbys do not stream now: commits would wait for them. */
export function requireStreaming(primary: Node, list: SyncList, state: SyncState): void {
  const missing = missingStandbys(list, streamingNames(state));
  if (missing.length === 0) return;
  const why = missing
    .map((name) => {
      const seen = standbyNamed(state.standbys, name);
      return seen ? `${name} is ${seen.state}, not streaming` : `${name} is not connected`;
    })
    .join('; ');
  throw new WizardError(
    `synchronous_standby_names = '${formatSyncList(list)}' is set only once every standby it names streams: ${why}`,
    where(primary),
    `start ${missing.length === 1 ? 'that standby' : 'those standbys'} (or set ${missing.length === 1 ? 'it' : 'them'} up: setup --standby NAME) and wait until ${missing.length === 1 ? 'it streams' : 'they stream'} (status), or leave ${missing.length === 1 ? 'it' : 'them'} out of --sync-names`,
  );
}

/** Writes the settings and reloads; returns the backup of postgresql.auto.conf. */
export async function applySync(primary: Node, change: SyncChange, recordChange: (change: ChangeRecord) => void): Promise<string> {
  const backup = await alterSystem(primary, entries(change), recordChange, 'reload');
  await reloadAndWait(primary);
  return backup;
}

/** Puts postgresql.auto.conf back as it was before applySync and reloads. */
export async function undoSync(primary: Node, backup: string): Promise<void> {
  await restoreBackup(primary, backup, autoConfPath(primary), 'postgres');
  await reloadAndWait(primary);
}

const syncStateWaitMs = 15_000;
/** How long the canary commit may take before the commits count as hanging. */
export const canaryBoundMs = 10_000;
const canaryText = 'pgrepl-wizard sync canary';

/**
 * A commit that waits for the synchronous standbys as every commit will (synchronous_commit at
 * least on for this transaction alone, so it proves the wait even where the server-wide level
 * is local or off). It runs in a session of its own: when it does not return within the bound
 * it is cancelled from the shared session (the commit is then local only, with the server's
 * WARNING), and its waited time is returned instead of an LSN.
 */
export async function canaryCommit(primary: Node, level: string): Promise<{ lsn: string; ms: number } | { hung: true; ms: number }> {
  const own = { ...liveAddress(primary), session: 'sync-canary' };
  const waitLevel = level === 'remote_apply' || level === 'remote_write' ? level : 'on';
  const started = Date.now();
  const commit = primary.host.sql<{ lsn: string }>(own, `SELECT set_config('synchronous_commit', $1, true), pg_logical_emit_message(true, 'pgrepl-wizard', $2)::text AS lsn`, [waitLevel, canaryText]);
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), canaryBoundMs)));
  const first = await Promise.race([commit, bound]).finally(() => clearTimeout(timer));
  if (first !== 'hung') return { lsn: first[0].lsn, ms: Date.now() - started };
  await query(primary, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", [canaryText]);
  await commit.catch(() => undefined);
  return { hung: true, ms: Date.now() - started };
}

/**
 * The proof after a change: every listed standby shows the sync_state the list gives it, and a
 * canary commit returns within the bound, confirmed by the synchronous standbys (their
 * flush_lsn reached it). Throws with what was seen otherwise.
 */
export async function verifySync(primary: Node, list: SyncList | undefined, signal: AbortSignal): Promise<string[]> {
  const expected = list ? expectedSyncStates(list) : new Map<string, string>();
  const matches = (state: SyncState) =>
    state.standbys.every((standby) => (expected.get(standby.name.toLowerCase()) ?? (list?.names.includes('*') ? standby.syncState : 'async')) === standby.syncState);
  const state = (await pollUntil(async () => {
    const now = await readSyncState(primary);
    return matches(now) ? now : undefined;
  }, { timeoutMs: syncStateWaitMs, intervalMs: 200, signal })) ?? (await readSyncState(primary));
  const shown = state.standbys.map((standby) => `${standby.name} ${standby.syncState}`).join(', ') || 'no standby connected';
  if (!matches(state)) {
    const wanted = [...expected].map(([name, syncState]) => `${name} ${syncState}`).join(', ');
    throw new WizardError(`pg_stat_replication shows ${shown}; the list '${list ? formatSyncList(list) : ''}' gives ${wanted || 'async for all'}`, where(primary), 'look at synchronous_standby_names (SHOW synchronous_standby_names) and the standbys\' application_name, then run again');
  }
  const canary = await canaryCommit(primary, state.synchronousCommit);
  if ('hung' in canary) {
    throw new WizardError(
      `a canary commit did not return within ${canaryBoundMs / 1000} s: commits wait for standbys that do not confirm (${shown}); it was cancelled (committed locally)`,
      where(primary),
      'look at the standbys (status); the change was put back',
    );
  }
  const confirmed = list ? (await readSyncState(primary)).standbys.filter((standby) => expected.has(standby.name.toLowerCase()) || list.names.includes('*')) : [];
  return [
    `pg_stat_replication: ${shown}`,
    `a canary commit (${canary.lsn}) returned in ${canary.ms} ms${confirmed.length > 0 ? `; flushed by ${confirmed.map((standby) => `${standby.name} (flush_lsn ${standby.flushLsn})`).join(', ')}` : ''}`,
  ];
}

/**
 * The list the standbys streaming now satisfy, keeping as much of the old one as they can:
 * the same names and method with n lowered to the eligible count; none (off) when no listed
 * standby streams. Undefined when the list is satisfied already.
 */
export function satisfiableList(list: SyncList, streaming: readonly string[]): { list?: SyncList } | undefined {
  if (satisfiable(list, streaming)) return undefined;
  const eligible = eligibleStandbys(list, streaming).length;
  return eligible === 0 ? {} : { list: { ...list, count: eligible } };
}

/** satisfiableList for the list set now, over the standbys streaming now. */
const loweredList = (state: SyncState) => state.list && satisfiableList(state.list, streamingNames(state));

/**
 * doctor --fix's way out of the commit hang: sessions wait on SyncRep because fewer listed
 * standbys stream than the list asks for. The list is lowered to what streams now (or
 * emptied); the reload releases the waiting commits as soon as the remaining standbys confirm.
 */
export const syncReleaseStep: Step = {
  id: 'sync-release',
  title: 'Commits waiting for absent synchronous standbys',

  async check(ctx): Promise<CheckResult> {
    const state = await readSyncState(ctx.primary);
    const lowered = loweredList(state);
    return lowered ? { done: false, detail: `synchronous_standby_names = '${state.setting}' but ${eligibleStandbys(state.list!, streamingNames(state)).length} of its standbys stream; ${state.waiting.length} session(s) wait` } : { done: true, detail: `synchronous_standby_names = '${state.setting}' is satisfied by the standbys streaming now` };
  },

  async plan(ctx): Promise<PlannedAction[]> {
    const state = await readSyncState(ctx.primary);
    const lowered = loweredList(state);
    return lowered ? syncActions(ctx.primary, lowered) : [];
  },

  async apply(ctx): Promise<string> {
    const state = await readSyncState(ctx.primary);
    const lowered = loweredList(state);
    if (!lowered) return 'nothing to change';
    await applySync(ctx.primary, lowered, ctx.recordChange);
    return `synchronous_standby_names = '${settingOf(lowered)}' (was '${state.setting}')`;
  },

  async verify(ctx): Promise<string> {
    const state = await readSyncState(ctx.primary);
    const lines = await verifySync(ctx.primary, state.list, ctx.signal);
    const released = await pollUntil(async () => ((await readSyncState(ctx.primary)).waiting.length === 0 ? true : undefined), { timeoutMs: canaryBoundMs, intervalMs: 200, signal: ctx.signal });
    if (!released) throw new WizardError('sessions still wait on SyncRep after the list was lowered', where(ctx.primary), 'look at pg_stat_activity (wait_event SyncRep) and the standbys (status)');
    return [...lines, 'no session waits on SyncRep any more'].join('; ');
  },
};
