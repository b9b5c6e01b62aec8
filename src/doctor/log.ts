import type { Node, Side } from '../../steps/contract.js';
import { newestLog } from '../facts/server-log.js';
import { matchLogLine, type FindingId } from '../catalog/catalog.js';

/**
 * A server's recent log, split into messages, and the part of it that describes the server
 * as it is now: what came after its last start and after the standby last began streaming.
 */

export interface LogEntry {
  /** The message's first line exactly as the server wrote it (its timestamp included). */
  line: string;
  /** What belongs to it: libpq's indented continuation lines, DETAIL and HINT. */
  more: string[];
  severity: string;
  /** When it was written (ms since the epoch), when the line starts with a UTC or offset timestamp. */
  at?: number;
}

export interface ServerLog {
  host: Side;
  /** The file it came from, or journald. */
  source: string;
  entries: LogEntry[];
}

const tailBytes = 256 * 1024;
const severityPattern = /\b(DEBUG\d?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT|QUERY|LOCATION):\s\s?/;
const attached = new Set(['DETAIL', 'HINT']);
const dropped = new Set(['STATEMENT', 'CONTEXT', 'QUERY', 'LOCATION']);

// log_line_prefix %m / %t in UTC or with an offset, or journald's short-iso-precise.
const timestampPattern = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?) ?(UTC|GMT|[+-]\d\d:?\d\d)?\b/;

/** The time a line was written, or undefined when its timestamp is missing or in a named local zone. */
export function lineTime(line: string): number | undefined {
  const match = timestampPattern.exec(line);
  if (!match || !match[3]) return undefined;
  const zone = /^(UTC|GMT)$/.test(match[3]) ? 'Z' : match[3].replace(/^([+-]\d\d)(\d\d)$/, '$1:$2');
  const time = Date.parse(`${match[1]}T${match[2]}${zone}`);
  return Number.isNaN(time) ? undefined : time;
}

/** Log text as messages; lines that belong to no message (pg_ctl's own output) are left out. */
export function parseLog(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  let current: LogEntry | undefined;
  for (const line of text.split('\n')) {
    const severity = severityPattern.exec(line)?.[1];
    if (severity === undefined) {
      if (current && /^\s/.test(line) && line.trim()) current.more.push(line);
      else current = undefined;
    } else if (attached.has(severity) || dropped.has(severity)) {
      if (current && attached.has(severity)) current.more.push(line);
    } else {
      current = { line, more: [], severity, at: lineTime(line) };
      entries.push(current);
    }
  }
  return entries;
}

/** The catalog ids an entry reveals, from its first line or a DETAIL/HINT. */
export const entryIds = (entry: LogEntry): FindingId[] => [...new Set([entry.line, ...entry.more].flatMap(matchLogLine))];

export const entryText = (entry: LogEntry): string[] => [entry.line, ...entry.more];

const startMarker = /\bLOG:\s+(starting PostgreSQL \d|database system was (shut down|interrupted|not properly shut down))/;
const streamingMarker = /\bLOG:\s+started streaming WAL from primary at/;
export const isStart = (entry: LogEntry) => startMarker.test(entry.line);
export const isStreamingStart = (entry: LogEntry) => streamingMarker.test(entry.line);

function lastIndex(entries: readonly LogEntry[], test: (entry: LogEntry) => boolean): number {
  for (let i = entries.length - 1; i >= 0; i--) if (test(entries[i])) return i;
  return -1;
}

/** The entries after the last one that passes `marker` (all of them when none does). */
export function after(entries: readonly LogEntry[], marker: (entry: LogEntry) => boolean): LogEntry[] {
  return entries.slice(lastIndex(entries, marker) + 1);
}

/** What the server logged since it last started: the current failure window of a server. */
export const sinceStart = (entries: readonly LogEntry[]) => after(entries, isStart);

const startsWindow = (entry: LogEntry) => isStart(entry) || isStreamingStart(entry);

/** A standby's current window: since its last start and since it last began streaming. */
export const currentStandbyWindow = (entries: readonly LogEntry[]) => after(entries, startsWindow);

/** When the standby's current window began, if its log says (the other server's lines before it are about the past). */
export function currentWindowStart(entries: readonly LogEntry[]): number | undefined {
  const index = lastIndex(entries, startsWindow);
  return index < 0 ? undefined : entries[index].at;
}

/** The failures before streaming last resumed without a restart (what a repair just cured). */
export function episodeBeforeStreaming(entries: readonly LogEntry[]): LogEntry[] {
  const streaming = lastIndex(entries, isStreamingStart);
  if (streaming < 0) return [];
  return after(entries.slice(0, streaming), startsWindow);
}

/** The last entry of the window that reveals `id`. */
export function lastWith(entries: readonly LogEntry[], id: FindingId): LogEntry | undefined {
  const index = lastIndex(entries, (entry) => entryIds(entry).includes(id));
  return index < 0 ? undefined : entries[index];
}

/** The newest log of a cluster, as messages. */
export async function readServerLog(node: Node): Promise<ServerLog> {
  const { source, text } = await newestLog(node, tailBytes);
  return { host: node.host.role as Side, source, entries: parseLog(text) };
}
