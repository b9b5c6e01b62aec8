import { clientTool } from '../src/facts/clusters.js';
import { WizardError } from '../src/errors.js';
import { where, writableServer, type CheckResult, type Node, type SetupSettings, type Step, type StepContext } from './contract.js';
import { runningAddress } from '../src/facts/live.js';
import { pollUntil } from './lib/poll.js';
import { catalog } from '../src/catalog/catalog.js';
import { replicationFix } from '../src/catalog/replication-errors.js';
import { passfileParams, probeReplication, replicationProbeArgv, walreceiverParams } from '../src/facts/replication.js';
import { problemLines, recentLog } from '../src/facts/server-log.js';

/**
 * Step 8: proof from both servers' own views that the standby streams: the primary's
 * pg_stat_replication and slot, the standby's WAL receiver, an end-to-end canary (a WAL
 * message, no user data) whose replay on the standby is timed, and a new replication
 * connection made with the standby's own primary_conninfo.
 */

/** The waits' bounds: 60 s for streaming, 30 s for the canary, or both PGREPL_STREAMING_TIMEOUT. */
const streamingTimeoutMs = (settings: SetupSettings) => settings.streamingWaitMs ?? 60_000;
const canaryTimeoutMs = (settings: SetupSettings) => settings.streamingWaitMs ?? 30_000;

const primarySql = `SELECT r.application_name, host(r.client_addr) AS client_addr, r.state, r.sync_state,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, r.replay_lsn)::bigint::text AS replay_bytes,
       (SELECT active FROM pg_replication_slots WHERE slot_name = $3) AS slot_active
  FROM pg_stat_replication r
 WHERE r.application_name = $1 OR host(r.client_addr) = $2`;
// pg_is_wal_replay_paused(): its name from PostgreSQL 10 on; a pause asked for, which holds replay (and the canary) still.
const standbySql = `SELECT (SELECT status FROM pg_stat_wal_receiver) AS status,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint::text AS apply_bytes,
       pg_is_wal_replay_paused() AS replay_paused`;
const canarySql = `SELECT pg_logical_emit_message(true, 'pgrepl-wizard', $1)::text AS lsn`;
const replayedSql = 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS replayed';
// sender_host and sender_port exist from PostgreSQL 11.
const senderSql = 'SELECT sender_host, sender_port FROM pg_stat_wal_receiver';

/**
 * A cascaded standby's WAL receiver must stream from its upstream, not from the primary: its
 * own view says whom it reached (PostgreSQL 11+), and the upstream's pg_stat_replication lists it.
 */
async function cascadeProof(ctx: StepContext): Promise<string> {
  const upstream = `the upstream ${ctx.primary.host.label}`;
  if (ctx.standby.cluster.major < 11) return `${upstream} streams to it (pg_stat_replication there)`;
  const [row] = (await sql<{ sender_host: string | null; sender_port: number | null }>(ctx.standby, senderSql)) ?? [];
  const expected = ctx.settings.primaryAddress;
  if (row?.sender_host !== expected || row.sender_port !== ctx.primary.cluster.port) {
    throw new WizardError(
      `the standby's WAL receiver streams from ${row?.sender_host ? `${row.sender_host}:${row.sender_port}` : 'nowhere'}, not from its upstream ${expected}:${ctx.primary.cluster.port}`,
      where(ctx.standby),
      "read its primary_conninfo (postgresql.auto.conf) and run setup again: the recovery-config step points it at the upstream",
    );
  }
  return `its WAL receiver streams from ${row.sender_host}:${row.sender_port} (pg_stat_wal_receiver.sender_host), ${upstream}, which lists it in pg_stat_replication`;
}

export interface Streaming {
  primary: { application_name: string; client_addr: string | null; state: string; sync_state: string; replay_bytes: string | null; slot_active: boolean | null } | undefined;
  standby: { status: string | null; apply_bytes: string | null; replay_paused: boolean } | undefined;
}

async function sql<Row extends Record<string, unknown>>(node: Node, text: string, params: unknown[] = []): Promise<Row[] | undefined> {
  const address = await runningAddress(node);
  return address ? node.host.sql<Row>(address, text, params) : undefined;
}

async function streamingState(ctx: StepContext): Promise<Streaming> {
  const { settings } = ctx;
  const [primary, standby] = await Promise.all([
    sql<NonNullable<Streaming['primary']>>(ctx.primary, primarySql, [settings.slotName, settings.standbyAddress, settings.slotName]),
    sql<NonNullable<Streaming['standby']>>(ctx.standby, standbySql),
  ]);
  return { primary: primary?.[0], standby: standby?.[0] };
}

const isStreaming = (s: Streaming) => s.primary?.state === 'streaming' && s.primary.slot_active === true && s.standby?.status === 'streaming';

export function describeStreaming(s: Streaming, slotName: string, sender = 'primary'): string {
  const primary = s.primary
    ? `the ${sender} sees ${s.primary.application_name || 'a standby'} from ${s.primary.client_addr ?? 'a local socket'} in state ${s.primary.state} (${s.primary.sync_state}), slot ${slotName} ${s.primary.slot_active ? 'active' : 'inactive'}, ${s.primary.replay_bytes ?? '?'} bytes not yet replayed`
    : `the ${sender} has no replication connection from the standby`;
  const paused = s.standby?.replay_paused ? ', and its replay is paused (pg_is_wal_replay_paused())' : '';
  // Without a WAL receiver since the start, the receive position is where recovery began: behind replay, so no figure.
  const apply = s.standby?.apply_bytes;
  const received = apply === null || apply === undefined || Number(apply) < 0 ? '' : `, ${apply} bytes received but not yet applied`;
  const standby = s.standby ? `the standby's WAL receiver is ${s.standby.status ?? 'not running'}${received}${paused}` : 'the standby is not running';
  return `${primary}; ${standby}`;
}

async function notStreaming(ctx: StepContext, state: Streaming, failure: string): Promise<WizardError> {
  const lines = problemLines(await recentLog(ctx.standby));
  return new WizardError(
    `${failure}: ${describeStreaming(state, ctx.settings.slotName, ctx.primary.host.role)}${lines.length ? `; the standby's log says:\n${lines.join('\n')}` : ''}`,
    where(ctx.standby),
    state.standby?.replay_paused
      ? catalog['replay-paused'].fix
      : (replicationFix(lines.join('\n'), { ...ctx.settings, primaryPort: ctx.primary.cluster.port }) ??
        `read the standby's log${ctx.standby.cluster.logFile ? ` (${ctx.standby.cluster.logFile})` : ''} and the primary's for the walreceiver's errors`),
  );
}

/**
 * The walsender that streams now authenticated when it connected, years ago perhaps; the
 * standby's next connection (after a restart or a network blip) logs in anew with its
 * primary_conninfo and passfile. That one is tried here.
 */
async function newConnectionProof(ctx: StepContext): Promise<string> {
  const params = await walreceiverParams(ctx.standby);
  const endpoints = { ...ctx.settings, primaryPort: ctx.primary.cluster.port };
  if (!params) throw new WizardError('the standby has no primary_conninfo', where(ctx.standby), 'run setup again: the recovery-config step writes it');
  const probe = await probeReplication(ctx.standby, params);
  if (!probe.ok) {
    throw new WizardError(
      `the standby streams on its current connection, but a new replication connection with its primary_conninfo fails, so streaming stops at its next reconnect: ${probe.output}`,
      where(ctx.standby),
      replicationFix(probe.output, endpoints) ?? "read the message above; it is PostgreSQL's own",
    );
  }
  return `a new replication connection from the standby with its primary_conninfo logs in (IDENTIFY_SYSTEM: system ${probe.output.split('|')[0]})`;
}

export const verifyStreamingStep: Step = {
  id: 'verify-streaming',
  title: 'Verify that the standby streams',

  async check(): Promise<CheckResult> {
    return { done: false, detail: 'streaming is verified on every run' };
  },

  async plan(ctx) {
    const { settings } = ctx;
    return [
      { side: 'primary', summary: `Wait up to ${streamingTimeoutMs(settings) / 1000} s for the standby's replication connection in state streaming, with slot ${settings.slotName} active`, sql: primarySql },
      { side: 'standby', summary: "Read the standby's WAL receiver status and apply lag", sql: standbySql },
      {
        side: 'primary',
        summary: `Write a canary into the WAL${ctx.origin ? ' on the primary (the upstream, a standby, passes it on)' : ''} (a logical message: no table, no user data)`,
        sql: canarySql,
      },
      ...(ctx.origin ? [{ side: 'standby' as const, summary: "Read whom the standby's WAL receiver streams from (pg_stat_wal_receiver.sender_host): the upstream", sql: senderSql }] : []),
      { side: 'standby', summary: 'Time until the standby has replayed the canary', sql: replayedSql },
      {
        side: 'standby',
        summary: "Open a new replication connection with the standby's primary_conninfo (the streaming one logged in when it connected; the next one must log in too)",
        command: replicationProbeArgv(clientTool(ctx.standby.cluster, 'psql'), passfileParams(settings, ctx.primary.cluster.port)),
      },
    ];
  },

  async apply(ctx) {
    let last: Streaming | undefined;
    const streaming = await pollUntil(
      async () => {
        last = await streamingState(ctx);
        return isStreaming(last) ? last : undefined;
      },
      { timeoutMs: streamingTimeoutMs(ctx.settings), intervalMs: 100, signal: ctx.signal },
    );
    if (!streaming) throw await notStreaming(ctx, last!, `the standby did not stream within ${streamingTimeoutMs(ctx.settings) / 1000} s`);

    // The new connection's proof runs beside the canary; a failure of it is reported after the canary's.
    const newConnection = newConnectionProof(ctx);
    newConnection.catch(() => undefined);
    const [{ lsn }] = (await sql<{ lsn: string }>(writableServer(ctx), canarySql, [`canary ${new Date().toISOString()}`]))!;
    const started = performance.now();
    const replayed = await pollUntil(
      async () => ((await sql<{ replayed: boolean }>(ctx.standby, replayedSql, [lsn]))?.[0]?.replayed ? true : undefined),
      { timeoutMs: canaryTimeoutMs(ctx.settings), intervalMs: 20, signal: ctx.signal },
    );
    if (!replayed) throw await notStreaming(ctx, await streamingState(ctx), `the standby did not replay a canary written at ${lsn} within ${canaryTimeoutMs(ctx.settings) / 1000} s`);
    const latencyMs = Math.round(performance.now() - started);
    const cascade = ctx.origin ? `${await cascadeProof(ctx)}; ` : '';
    return `the standby streams; ${cascade}a canary written at ${lsn} on the primary was replayed on the standby after ${latencyMs} ms; ${await newConnection}`;
  },

  async verify(ctx) {
    const state = await streamingState(ctx);
    if (!isStreaming(state)) throw await notStreaming(ctx, state, 'the standby does not stream');
    return describeStreaming(state, ctx.settings.slotName, ctx.primary.host.role);
  },
};
