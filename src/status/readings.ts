import type { Node } from '../../steps/contract.js';
import { filesystemSpace, type FilesystemSpace } from '../facts/host.js';
import { runningAddress } from '../facts/live.js';
import { primaryStatusSql, standbyStatusSql, type PrimaryReading, type StandbyReading } from '../facts/replication-views.js';

/**
 * What `status` reads on each refresh: one SQL statement per host (the server's own views,
 * aggregated into one row), so a refresh costs one round trip per host on the session that
 * is already open; the primary's free space (df, a remote command) only every few refreshes
 * (see src/jobs/status.ts). Only reads; the judging is assess.ts.
 */

/** A host's reading, or why there is none (stopped, refusing SQL, unreachable). */
export type Reading<T> = { ok: true; value: T; roundTripMs: number } | { ok: false; problem: string };

/**
 * One statement on the open session. A server found stopped (or whose session broke) is
 * looked for again first, so a server started during `--watch` shows up on the next refresh.
 */
async function readOnce<T>(node: Node, sql: string, known: { lastOk: boolean }): Promise<Reading<T>> {
  try {
    const address = known.lastOk && node.address ? node.address : await runningAddress(node);
    if (!address) {
      known.lastOk = false;
      return { ok: false, problem: `${node.cluster.id} is not running` };
    }
    const started = performance.now();
    const [row] = await node.host.sql<Record<string, unknown>>(address, sql);
    known.lastOk = true;
    return { ok: true, value: row as T, roundTripMs: performance.now() - started };
  } catch (error) {
    known.lastOk = false;
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
}

/** Reads a node's status statement again and again; remembers whether the last one worked. */
export function statusReader<T>(node: Node, sqlFor: (major: number) => string): () => Promise<Reading<T>> {
  const sql = sqlFor(node.cluster.major);
  const known = { lastOk: node.address !== undefined };
  return () => readOnce<T>(node, sql, known);
}

export const readPrimaryStatus = (node: Node) => statusReader<PrimaryReading>(node, primaryStatusSql);
export const readUpstreamStatus = (node: Node) => statusReader<PrimaryReading>(node, (major) => primaryStatusSql(major, true));
export const readStandbyStatus = (node: Node) => statusReader<StandbyReading>(node, standbyStatusSql);

/** The filesystem that holds pg_wal (a symlinked pg_wal is followed): free and total bytes. */
export type WalFilesystem = FilesystemSpace;

// "pg_wal/." resolves a symlinked pg_wal to the directory it points at.
export const readWalFilesystem = (node: Node) => filesystemSpace(node.host, `${node.cluster.dataDirectory}/pg_wal/.`);
