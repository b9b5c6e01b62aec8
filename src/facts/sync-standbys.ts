/**
 * synchronous_standby_names as PostgreSQL reads it (10+): `[FIRST] n (s1, s2, …)`,
 * `ANY n (s1, s2, …)`, or the old `s1, s2, …` (FIRST 1), each name an identifier or `*`.
 * Names match application_names case-insensitively, quoted or not. What a list gives, and
 * whether the standbys streaming now satisfy it, are judged here for the builder (sync), the
 * removal of a standby and doctor.
 */

export interface SyncList {
  /** FIRST: the first n listed that stream are synchronous (priority); ANY: any n of them confirm (quorum). */
  method: 'first' | 'any';
  count: number;
  names: string[];
}

const listPattern = /^\s*(?:(first|any)\s+)?(\d+)\s*\((.*)\)\s*$/is;

/** The list a setting names; undefined when it is empty (no synchronous replication). */
export function parseSyncList(setting: string): SyncList | undefined {
  if (setting.trim() === '') return undefined;
  const match = listPattern.exec(setting);
  const names = (match ? match[3] : setting)
    .split(',')
    .map((name) => name.trim().replace(/^"(.*)"$/, '$1'))
    .filter(Boolean);
  if (!match) return { method: 'first', count: 1, names };
  return { method: match[1]?.toLowerCase() === 'any' ? 'any' : 'first', count: Number(match[2]), names };
}

/** Names are compared case-insensitively, as the server does. */
export const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The connected standby (a pg_stat_replication row) of this name, if any. */
export const standbyNamed = <Row extends { name: string }>(rows: readonly Row[], name: string): Row | undefined => rows.find((row) => sameName(row.name, name));

/** Whether the list names this standby (or every standby, with *). */
export const namesStandby = (list: SyncList | undefined, name: string) => Boolean(list?.names.some((entry) => entry === '*' || sameName(entry, name)));

/** A name as the setting writes it: bare when it is a plain lower-case identifier, quoted otherwise. */
const quoteName = (name: string) => (name === '*' || /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

export function formatSyncList(list: SyncList): string {
  return `${list.method.toUpperCase()} ${list.count} (${list.names.map(quoteName).join(', ')})`;
}

/** The listed names that stream now (state streaming), in list order; `*` counts every streaming standby. */
export function eligibleStandbys(list: SyncList, streaming: readonly string[]): string[] {
  if (list.names.includes('*')) return [...streaming];
  return list.names.filter((name) => streaming.some((other) => sameName(other, name)));
}

/** The listed names that do not stream now. */
export const missingStandbys = (list: SyncList, streaming: readonly string[]) => (list.names.includes('*') ? [] : list.names.filter((name) => !streaming.some((other) => sameName(other, name))));

/** Whether commits can get their confirmations from the standbys streaming now. */
export const satisfiable = (list: SyncList, streaming: readonly string[]) => eligibleStandbys(list, streaming).length >= list.count;

/** The sync_state pg_stat_replication must show for each listed standby once they all stream. */
export function expectedSyncStates(list: SyncList): Map<string, 'sync' | 'potential' | 'quorum'> {
  return new Map(list.names.map((name, index) => [name.toLowerCase(), list.method === 'any' ? 'quorum' : index < list.count ? 'sync' : 'potential']));
}

/** What a list gives, in an operator's words: which commit waits for whom, and what happens when standbys go away. */
export function explainSyncList(list: SyncList): string[] {
  const { count, names } = list;
  const spare = names.length - count;
  const listed = names.join(', ');
  const waits =
    list.method === 'first'
      ? `FIRST ${count} of ${names.length} (priority): every commit waits until the ${count === 1 ? 'first' : `first ${count}`} of ${listed} that stream${count === 1 ? 's' : ''} (${names.slice(0, count).join(', ')} while ${count === 1 ? 'it streams' : 'they stream'}) confirm${count === 1 ? 's' : ''} it; pg_stat_replication shows ${count === 1 ? 'it' : 'them'} as sync${spare > 0 ? ` and the others as potential` : ''}.`
      : `ANY ${count} of ${names.length} (quorum): every commit waits until any ${count} of ${listed} confirm${count === 1 ? 's' : ''} it, whichever answer${count === 1 ? 's' : ''} first; pg_stat_replication shows each of them as quorum.`;
  const away =
    spare === 0
      ? `No standby may go away: if any of ${listed} stops or loses its connection, every commit waits (it hangs, for ever) until that standby streams again or the list is changed.`
      : list.method === 'first'
        ? `Up to ${spare} of them may stop: a sync standby that goes away is replaced at once by the next listed one that streams (potential → sync); with more than ${spare} gone every commit waits until enough stream again.`
        : `Up to ${spare} of them may stop and commits go on; with more than ${spare} gone every commit waits until enough stream again.`;
  return [waits, away];
}

/** synchronous_commit levels, and what a commit waits for under each while the list is set. */
export const synchronousCommitLevels = {
  remote_apply: "each commit waits until the synchronous standbys have replayed it (a read there sees it at once; the slowest)",
  on: 'each commit waits until the synchronous standbys have flushed it to disk (the default: no committed transaction is lost when the primary fails)',
  remote_write: "each commit waits until the synchronous standbys have written it (not flushed): lost only if the primary and the standby's OS fail together",
  local: 'commits wait for the local flush only, never for a standby (synchronous replication is then asked for per transaction: SET synchronous_commit = on)',
  off: 'commits wait for nothing, not even the local flush (the last moments of commits can be lost in a crash; never for standbys)',
} as const;
export type SynchronousCommit = keyof typeof synchronousCommitLevels;
export const isSynchronousCommit = (value: string): value is SynchronousCommit => value in synchronousCommitLevels;
