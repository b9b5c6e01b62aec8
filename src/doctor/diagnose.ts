import type { Side } from '../../steps/contract.js';
import { listenAddressesCovering } from '../../steps/primary-settings.js';
import { findingFix, type ReplicationEndpoints } from '../catalog/replication-errors.js';
import { hotStandbyMinimums } from '../../steps/lib/standby-config.js';
import { formatBytes } from '../report.js';
import { autoConfValue } from '../facts/auto-conf.js';
import { commandLine } from '../remote/quote.js';
import { isOtherCluster } from '../facts/replication-views.js';
import { eligibleStandbys, formatSyncList, missingStandbys, namesStandby, parseSyncList, satisfiable, standbyNamed } from '../facts/sync-standbys.js';
import { catalog, matchConnectionError, type FindingHost, type FindingId, type Severity } from '../catalog/catalog.js';
import { recoverySetting, replicationUser, type DoctorFacts, type SlotFact, type WalSenderFact } from './facts.js';
import { archiveCleanupOf, keepReason } from './archive-cleanup.js';
import {
  after,
  currentStandbyWindow,
  currentWindowStart,
  entryIds,
  entryText,
  episodeBeforeStreaming,
  isStreamingStart,
  lastWith,
  sinceStart,
  type LogEntry,
  type ServerLog,
} from './log.js';

/**
 * The verdict on a pair from its facts: one finding per cause, each proven by live state
 * (a view, a setting, a file, a replication connection tried now) and quoting the log lines
 * of the current failure window as evidence. A log line alone never makes an error of a
 * cause the live state no longer shows; causes cured since are at most info.
 */

/** What --fix does for a finding, in the order repair.ts runs them. */
export type RepairId =
  | 'role'
  | 'primary-wal-level-files'
  | 'start-primary'
  | 'primary-settings'
  | 'hba'
  | 'slot'
  | 'drop-slot'
  | 'reclone'
  | 'convert-recovery-conf'
  | 'standby-settings'
  | 'recovery-config'
  | 'start-standby'
  | 'archive-cleanup'
  | 'sync-release';

export interface Evidence {
  host: FindingHost;
  /** The log file (or journald), or the view, file or command a result came from. */
  source: string;
  /** Log lines verbatim, with the server's timestamps; results prefixed with the host's clock. */
  lines: string[];
}

export interface Finding {
  id: FindingId;
  severity: Severity;
  host: FindingHost;
  title: string;
  /** The specifics of this pair: names, values, amounts. */
  detail?: string;
  /** The slot a slot finding is about. */
  slot?: string;
  evidence: Evidence[];
  fix: {
    text: string;
    fixable: boolean;
    /** What `doctor --fix` does about it. */
    action?: string;
    repairs: RepairId[];
  };
  /** Seen in the log before the standby streamed again: cured since, reported as info. */
  resolved?: true;
}

export interface Diagnosis {
  healthy: boolean;
  findings: Finding[];
  /** The live facts that show how replication stands, healthy or not. */
  replication: ReplicationState;
}

export interface ServerState {
  clusterId: string;
  running: boolean;
  inRecovery?: boolean;
}

/** What proves a pair healthy (or shows how far it is from it), read from both servers' views. */
export interface ReplicationState {
  /** What the standby streams from: the primary, or in a cascade its upstream. */
  primary: ServerState;
  /** In a cascade: `primary` is this upstream, and its own WAL receiver is the hop from the primary. */
  upstream?: { label: string; receiverStatus: string | null };
  standby: ServerState & { receiverStatus?: string };
  /** The primary's pg_stat_replication for this standby: WAL not yet replayed, and replay_lag. */
  replayBytes?: number;
  replayLagSeconds?: number | null;
  slot?: { name: string; active: boolean; retainedBytes: number | null; walStatus: string | null };
  /** pg_stat_wal_receiver.last_msg_receipt_time on the standby, and its age at the check. */
  lastMessageAt?: string;
  lastMessageAgeSeconds?: number;
}

/** A standby this far behind is worth a warning. */
export const lagWarningBytes = 16 * 1024 * 1024;
export const lagWarningSeconds = 60;

const severityOrder: Severity[] = ['error', 'warning', 'info'];

/** Log entries of one server as one piece of evidence, in the order they were written. */
function fromLog(log: ServerLog, ...entries: (LogEntry | undefined)[]): Evidence[] {
  const present = entries.filter((entry): entry is LogEntry => entry !== undefined).sort((a, b) => log.entries.indexOf(a) - log.entries.indexOf(b));
  return present.length > 0 ? [{ host: log.host, source: log.source, lines: present.flatMap(entryText) }] : [];
}
const fromQuery = (host: Side, source: string, clock: string, lines: string[]): Evidence => ({ host, source, lines: lines.map((line) => `${clock}  ${line}`) });

interface Context {
  facts: DoctorFacts;
  endpoints: ReplicationEndpoints;
  /** The standby's log since it last started or began streaming. */
  standbyWindow: LogEntry[];
  /**
   * The primary's log since it last started and since the standby's current window began,
   * without lines about other clients.
   */
  primaryWindow: LogEntry[];
  /** The standby host's addresses a primary can see it connect from (not loopback). */
  standbyAddresses: string[];
  streaming: boolean;
  ownSlot?: SlotFact;
  ownSender?: WalSenderFact;
  passwordKnown: boolean;
}

interface FixChoice {
  text?: string;
  repairs?: RepairId[];
  /** What --fix does, when it is not the catalog's usual repair for the id. */
  action?: string;
}

function finding(id: FindingId, evidence: Evidence[], fix: FixChoice = {}, extra: Partial<Finding> = {}): Finding {
  const spec = catalog[id];
  const repairs = fix.repairs ?? [];
  return {
    id,
    severity: spec.severity,
    host: spec.host,
    title: spec.title,
    evidence,
    fix: { text: fix.text ?? spec.fix, fixable: repairs.length > 0, action: repairs.length > 0 ? (fix.action ?? spec.autoFix) : undefined, repairs },
    ...extra,
  };
}

/** The last lines of both current windows that reveal `id`: the same cause seen from both sides. */
function logEvidence(ctx: Context, id: FindingId): Evidence[] {
  const { standby, primary } = ctx.facts;
  return [...fromLog(standby.log, lastWith(ctx.standbyWindow, id)), ...fromLog(primary.log, lastWith(ctx.primaryWindow, id))];
}

/** Lines of another client ("host "10.0.0.9"") are not about this standby. */
function aboutThisStandby(entry: LogEntry, standbyAddresses: readonly string[]): boolean {
  const client = /\bhost "([^"]+)"/.exec(entry.line)?.[1];
  return client === undefined || standbyAddresses.includes(client);
}

const fixTextFor = (ctx: Context, id: FindingId) => findingFix(id, ctx.endpoints);

function standbyRole(ctx: Context): Finding[] {
  const { standby, primary, relationship } = ctx.facts;
  const found: Finding[] = [];
  // A standby of another cluster was never this primary's copy, so it was not "promoted":
  // sysid-mismatch says what it is (a setup that stopped before its clone leaves exactly that).
  if (isOtherCluster(standby.systemIdentifier, primary.systemIdentifier)) return found;
  if (standby.running && standby.inRecovery === false) {
    const promoted = standby.log.entries.filter((entry) => /received promote request|selected new timeline ID|database system is ready to accept connections/.test(entry.line)).slice(-2);
    found.push(
      finding(
        'standby-not-in-recovery',
        [fromQuery('standby', 'pg_is_in_recovery()', standby.clock, ['pg_is_in_recovery() = false: it accepts writes']), ...fromLog(standby.log, ...promoted)],
        { repairs: ['reclone'] },
        { detail: `${standby.clusterId} runs as a primary${standby.timeline !== undefined && primary.timeline !== undefined ? ` on timeline ${standby.timeline} (the primary is on ${primary.timeline})` : ''}${formerPrimary(ctx)}` },
      ),
    );
  } else if (!standby.running) {
    const signal = standby.major >= 12 ? standby.standbySignal || standby.recoverySignal || standby.recoveryConf !== null : /^(on|true|yes|1)$/i.test(/standby_mode\s*=\s*'?(\w+)/.exec(standby.recoveryConf ?? '')?.[1] ?? '');
    if (!signal) {
      const file = standby.major >= 12 ? 'standby.signal' : "recovery.conf with standby_mode = 'on'";
      found.push(
        finding('standby-not-in-recovery', [fromQuery('standby', 'data directory', standby.clock, [`no ${file}: it would start as a primary (cluster state: ${standby.controlState ?? 'unknown'})`])], { repairs: ['reclone'] }, { detail: `${standby.clusterId} has no ${file}${formerPrimary(ctx)}` }),
      );
    }
  }
  const inRecovery = standby.running ? standby.inRecovery !== false : found.length === 0;
  if (inRecovery && relationship.conninfo === undefined) {
    const restore = recoverySetting(standby, 'restore_command');
    const source = restore ? `restore_command = '${restore}'` : 'no restore_command either: it waits for WAL files to appear in its pg_wal';
    const { host, port, role } = relationship.passfileKey;
    const stored = `${host}:${port}:replication:${role}: ${relationship.storedPassword === undefined ? 'no password stored for it (--fix asks for one, or takes PGREPL_PASSWORD)' : 'the password setup stored, which --fix writes primary_conninfo with'}`;
    found.push(
      finding(
        'primary-conninfo-missing',
        [fromQuery('standby', relationship.source, standby.clock, ['primary_conninfo is empty', source]), fromQuery('standby', relationship.passfile, standby.clock, [stored]), ...fromLog(standby.log, lastWith(sinceStart(standby.log.entries), 'primary-conninfo-missing'))],
        { repairs: ['recovery-config', 'start-standby'] },
        { detail: restore ? 'it replays only what reaches the WAL archive (restore_command), never streams' : 'neither primary_conninfo nor restore_command: it has no source of WAL' },
      ),
    );
  }
  return found;
}

/**
 * A standby out of recovery on an earlier timeline than the primary's: the primary was
 * promoted after it forked (a failover), so this is the former primary, to follow the new one.
 */
function formerPrimary(ctx: Context): string {
  const { standby, primary } = ctx.facts;
  if (standby.timeline === undefined || primary.timeline === undefined || standby.timeline >= primary.timeline) return '';
  return `: the former primary (the primary was promoted on a later timeline, a failover); to follow the new primary it needs a rewind or a new clone`;
}


const shutdownRequest = /received (fast|smart|immediate) shutdown request/;
const message = (entry: LogEntry) => entry.line.replace(/^.*?\b(LOG|FATAL|PANIC):\s+/, '');

/** Why a server that is not running stopped: an operator's shutdown request, or the FATAL/PANIC that ended it. */
function stopReason(log: ServerLog): { reason: string; entries: LogEntry[] } {
  const sinceLastStart = sinceStart(log.entries);
  const request = sinceLastStart.filter((entry) => shutdownRequest.test(entry.line)).at(-1);
  if (request) return { reason: `it was shut down (${message(request)})`, entries: [request] };
  const failures = sinceLastStart.filter((entry) => /^(FATAL|PANIC)$/.test(entry.severity)).slice(-2);
  if (failures.length > 0) return { reason: `it stopped on: ${message(failures.at(-1)!)}`, entries: failures };
  return { reason: `its log (${log.source}) says nothing about why`, entries: [] };
}

function standbyDown(ctx: Context): Finding[] {
  const { standby } = ctx.facts;
  if (standby.running) return [];
  const { reason, entries } = stopReason(standby.log);
  return [
    finding(
      'standby-down',
      [fromQuery('standby', 'pg_ctl status', standby.clock, [`no server running in ${standby.clusterId}`]), ...fromLog(standby.log, ...entries)],
      { repairs: ['start-standby'] },
      { detail: reason },
    ),
  ];
}

function recoveryConf(ctx: Context): Finding[] {
  const { standby } = ctx.facts;
  if (standby.major < 12 || standby.recoveryConf === null) return [];
  return [
    finding(
      'recovery-conf-unsupported',
      [fromQuery('standby', 'data directory', standby.clock, [`recovery.conf exists; PostgreSQL ${standby.major} refuses to start with it`]), ...fromLog(standby.log, lastWith(sinceStart(standby.log.entries), 'recovery-conf-unsupported'))],
      { repairs: ['convert-recovery-conf', 'start-standby'] },
    ),
  ];
}

/** The hot-standby settings the standby has lower than the primary. */
function lowHotStandbySettings(ctx: Context): string[] {
  const { standby, primary } = ctx.facts;
  return hotStandbyMinimums(standby.major).filter((name) => primary.settings[name] !== undefined && standby.settings[name] !== undefined && Number(standby.settings[name]) < Number(primary.settings[name]));
}

function hotStandbyParams(ctx: Context): Finding[] {
  const { standby, primary } = ctx.facts;
  const low = lowHotStandbySettings(ctx);
  if (low.length === 0) return [];
  const comparison = low.map((name) => `${name} = ${standby.settings[name]} on the standby, ${primary.settings[name]} on the primary`);
  const window = sinceStart(standby.log.entries);
  const logged = window.filter((entry) => entryIds(entry).includes('hot-standby-params')).slice(-2);
  // PostgreSQL 14+ pauses replay at the primary's new values instead of stopping: the standby still streams, applying nothing.
  const paused = standby.running && standby.inRecovery && standby.replayPaused;
  const pause = paused && logged.length > 0 ? lastWith(after(window, (entry) => entry === logged.at(-1)), 'replay-paused') : undefined;
  const live = paused ? [`replay paused by it: pg_is_wal_replay_paused() = true, ${formatBytes(standby.applyBytes ?? 0)} received and not replayed`] : [];
  return [
    finding(
      'hot-standby-params',
      [fromQuery('standby', `settings (standby: ${standby.settingsSource}; primary: ${primary.settingsSource})`, standby.clock, [...comparison, ...live]), ...fromLog(standby.log, ...logged, pause)],
      {
        text: `raise ${low.map((name) => `${name} to ${primary.settings[name]}`).join(', ')} on the standby and restart it; raise such settings on every standby before the primary`,
        repairs: ['standby-settings', 'start-standby'],
      },
      { detail: `${comparison.join('; ')}${paused ? '; replay is paused until the standby is restarted with them' : ''}` },
    ),
  ];
}

const replicaLevels = ['replica', 'logical', 'archive', 'hot_standby'];

function walLevel(ctx: Context): Finding[] {
  const { primary, standby } = ctx.facts;
  const level = primary.settings.wal_level;
  const tooLow = level !== undefined && !replicaLevels.includes(level);
  // The standby replays what the primary wrote: minimal WAL stops it until it is cloned again.
  const replayedMinimal = !ctx.streaming ? lastWith(ctx.standbyWindow, 'wal-level-insufficient') : undefined;
  if (!tooLow && !replayedMinimal) return [];
  const primaryLine = lastWith(sinceStart(primary.log.entries), 'wal-level-insufficient');
  const repairs: RepairId[] = tooLow ? (primary.running ? ['primary-settings'] : ['primary-wal-level-files', 'start-primary', 'primary-settings']) : [];
  // A primary running with minimal writes WAL no standby can replay: the standby needs a fresh copy.
  if (replayedMinimal || (tooLow && primary.running)) repairs.push('reclone');
  return [
    finding(
      'wal-level-insufficient',
      [
        ...(tooLow ? [fromQuery('primary', primary.settingsSource, primary.clock, [`wal_level = ${level}`])] : []),
        ...fromLog(primary.log, primaryLine),
        ...fromLog(standby.log, replayedMinimal),
      ],
      { repairs },
      { detail: tooLow ? `wal_level = ${level} on the primary${primary.running ? '' : ', which therefore does not start'}` : 'the standby received WAL written with wal_level = minimal' },
    ),
  ];
}

/** The ids a failing replication connection from the standby shows now. */
function probeIds(ctx: Context): FindingId[] {
  const { probe } = ctx.facts;
  return probe && !probe.ok ? matchConnectionError(probe.output) : [];
}

const probeEvidence = (ctx: Context): Evidence[] => {
  const { probe } = ctx.facts;
  return probe ? [fromQuery('standby', 'replication connection with primary_conninfo (psql IDENTIFY_SYSTEM)', probe.clock, probe.output.split('\n').map((line) => line.trim()).filter(Boolean))] : [];
};

function connection(ctx: Context): Finding[] {
  const { primary, relationship } = ctx.facts;
  const now = probeIds(ctx);
  const found: Finding[] = [];
  const add = (id: FindingId, fix: { text?: string; repairs?: RepairId[] }, extra: Partial<Finding> = {}) => found.push(finding(id, [...probeEvidence(ctx), ...logEvidence(ctx, id)], fix, extra));

  if (now.includes('hba-missing')) add('hba-missing', { text: fixTextFor(ctx, 'hba-missing'), repairs: ['hba'] }, withoutTls(ctx));
  if (now.includes('auth-failed')) {
    add('auth-failed', ctx.passwordKnown ? { text: fixTextFor(ctx, 'auth-failed'), repairs: ['role'] } : { text: `${fixTextFor(ctx, 'auth-failed')}; doctor --fix can do it once PGREPL_PASSWORD holds the password` });
  }
  if (now.includes('tls-failed')) add('tls-failed', {});
  const role = primary.role;
  const roleLacks = role ? [...(role.canLogin ? [] : ['LOGIN']), ...(role.replication ? [] : ['REPLICATION'])] : [];
  if (now.includes('not-replication-role') || roleLacks.length > 0) {
    const roleEvidence = roleLacks.length > 0 ? [fromQuery('primary', 'pg_roles', primary.clock, [`role ${ctx.endpoints.roleName} has no ${roleLacks.join(' and no ')}`])] : [];
    found.push(finding('not-replication-role', [...roleEvidence, ...probeEvidence(ctx), ...logEvidence(ctx, 'not-replication-role')], { text: fixTextFor(ctx, 'not-replication-role'), repairs: ['role'] }));
  }
  if (now.includes('wal-senders-exhausted')) {
    const senders = primary.walSenders.map((s) => `pid ${s.pid} ${s.applicationName || 'unnamed'} from ${s.clientAddr ?? 'a local socket'} (${s.state})`);
    add('wal-senders-exhausted', { repairs: ['primary-settings'] }, { detail: `max_wal_senders = ${primary.settings.max_wal_senders ?? '?'}; in use by: ${senders.join(', ') || 'nothing visible now'}` });
  }
  if (now.includes('primary-unreachable') || (!primary.running && relationship.conninfo !== undefined)) found.push(unreachable(ctx));
  return found;
}

/**
 * An hba refusal that PostgreSQL says came unencrypted ("no encryption", "SSL off" up to 13):
 * a hostssl line never matches such a connection, whatever its address and role.
 */
function withoutTls(ctx: Context): Partial<Finding> {
  const refusal = /no pg_hba\.conf entry for replication connection from host "[^"]+", user "[^"]+", (no encryption|SSL off)/.exec(ctx.facts.probe?.output ?? '');
  if (!refusal) return {};
  return {
    detail: `the connection came without TLS ("${refusal[1]}"): a hostssl line matches only encrypted connections, so the standby's primary_conninfo must not say sslmode=disable (use require or verify-full), or the primary must have ssl = on`,
  };
}

/** Why the standby cannot reach the primary, and whether --fix can change that. */
function unreachable(ctx: Context): Finding {
  const { primary, relationship } = ctx.facts;
  const evidence = [...probeEvidence(ctx), ...logEvidence(ctx, 'primary-unreachable')];
  if (!primary.running) {
    const { reason, entries } = stopReason(primary.log);
    const cleanStop = entries.some((entry) => shutdownRequest.test(entry.line));
    // wal_level minimal is a reason --fix repairs before it starts the primary.
    const walLevelStop = entries.some((entry) => entryIds(entry).includes('wal-level-insufficient'));
    return finding(
      'primary-unreachable',
      [fromQuery('primary', 'pg_ctl status', primary.clock, [`no server running in ${primary.clusterId}`]), ...fromLog(primary.log, ...entries), ...evidence],
      cleanStop || walLevelStop
        ? { text: walLevelStop ? 'start the primary once wal_level is replica (see wal-level-insufficient)' : 'start the primary', repairs: ['start-primary'], action: 'starts the primary' }
        : { text: `fix what the primary's log says (${primary.log.source}), then start it` },
      { detail: `the primary's cluster ${primary.clusterId} is not running: ${reason}` },
    );
  }
  const port = relationship.params.port ?? '5432';
  if (primary.settings.port !== undefined && port !== primary.settings.port) {
    return finding('primary-unreachable', evidence, { text: `primary_conninfo names port ${port}, but the primary listens on ${primary.settings.port}: correct primary_conninfo on the standby` }, { detail: `port ${port} in primary_conninfo, ${primary.settings.port} on the primary` });
  }
  const target = relationship.hostAddresses.find((address) => primary.addresses.includes(address));
  const listen = primary.settings.listen_addresses ?? '';
  if (target && listenAddressesCovering(listen, target) !== undefined) {
    return finding(
      'primary-unreachable',
      [fromQuery('primary', primary.settingsSource, primary.clock, [`listen_addresses = '${listen}'`]), ...evidence],
      { text: `add ${target} to listen_addresses on the primary and restart it`, repairs: ['primary-settings'] },
      { detail: `the primary listens on '${listen}', not on ${target}` },
    );
  }
  return finding('primary-unreachable', evidence, { text: fixTextFor(ctx, 'primary-unreachable') }, { detail: `the primary listens on '${listen}' port ${primary.settings.port}; something between the hosts (routing, a firewall) stops the connection` });
}

/** Why the standby's slot lost its WAL: the cap it crossed, from invalidation_reason (17+) or the settings, with the primary's own line. */
function slotInvalidated(ctx: Context, slot: SlotFact, line: string): Finding {
  const { primary } = ctx.facts;
  const keep = primary.settings.max_slot_wal_keep_size;
  const idle = primary.settings.idle_replication_slot_timeout;
  const reason = slot.invalidationReason;
  const settings = [
    ...(keep !== undefined ? [`max_slot_wal_keep_size = ${keep === '-1' ? '-1 (unlimited)' : `${keep} MB`}`] : []),
    // Seconds in pg_settings; 0 turns it off.
    ...(idle !== undefined ? [`idle_replication_slot_timeout = ${idle === '0' ? '0 (off)' : `${idle} s`}`] : []),
  ];
  const byIdle = reason === 'idle_timeout';
  const cap = byIdle ? `it stayed inactive longer than idle_replication_slot_timeout (${idle ?? '?'} s)` : `it retained more WAL than max_slot_wal_keep_size (${keep === undefined || keep === '-1' ? keep ?? '?' : `${keep} MB`}) allows`;
  const invalidated = lastWith(primary.log.entries, 'slot-invalidated');
  return finding(
    'slot-invalidated',
    [fromQuery('primary', 'pg_replication_slots, pg_settings', primary.clock, [`${line}${reason ? `, invalidation_reason ${reason}` : ''}`, ...(settings.length > 0 ? [settings.join(', ')] : [])]), ...fromLog(primary.log, invalidated)],
    {
      text: byIdle
        ? `${catalog['slot-invalidated'].fix.replace(/; consider .*$/, '')}; raise idle_replication_slot_timeout (or 0 to turn it off) if standbys may stay away that long`
        : catalog['slot-invalidated'].fix,
      repairs: ['reclone'],
    },
    { slot: slot.name, detail: `slot ${slot.name} was invalidated: ${cap}, so the primary released WAL the standby still needs` },
  );
}

function slots(ctx: Context): Finding[] {
  const { primary, relationship } = ctx.facts;
  if (!primary.slots) return [];
  const found: Finding[] = [];
  const name = relationship.slotName;
  const slotLine = (slot: SlotFact) =>
    `slot ${slot.name} (${slot.type}): ${slot.active ? `active, pid ${slot.activePid}` : 'inactive'}, restart_lsn ${slot.restartLsn ?? 'none'}${slot.walStatus ? `, wal_status ${slot.walStatus}` : ''}${slot.retainedBytes !== null ? `, retains ${formatBytes(slot.retainedBytes)}` : ''}`;
  if (name && !ctx.ownSlot) {
    const existing = primary.slots.map((slot) => slot.name).join(', ') || 'none';
    found.push(
      finding('slot-missing', [fromQuery('primary', 'pg_replication_slots', primary.clock, [`no slot named ${name} (slots: ${existing})`]), ...logEvidence(ctx, 'slot-missing')], { text: fixTextFor(ctx, 'slot-missing'), repairs: ['slot'] }, { slot: name }),
    );
  }
  const own = ctx.ownSlot;
  if (own?.active && own.activePid !== ctx.ownSender?.pid) {
    const holder = primary.walSenders.find((sender) => sender.pid === own.activePid);
    const who = holder ? `${holder.applicationName || 'an unnamed client'} from ${holder.clientAddr ?? 'a local socket'}` : `pid ${own.activePid}`;
    found.push(
      finding(
        'slot-in-use',
        [fromQuery('primary', 'pg_replication_slots, pg_stat_replication', primary.clock, [slotLine(own), ...(holder ? [`pid ${holder.pid}: ${who}, state ${holder.state}`] : [])]), ...logEvidence(ctx, 'slot-in-use')],
        { text: `slot ${own.name} is held by ${who}, not by this standby: ${catalog['slot-in-use'].fix}` },
        { slot: own.name, detail: `held by ${who}` },
      ),
    );
  }
  if (own?.walStatus === 'lost') found.push(slotInvalidated(ctx, own, slotLine(own)));
  const keep = primary.settings.max_slot_wal_keep_size;
  const cap = keep === undefined ? 'PostgreSQL before 13 has no max_slot_wal_keep_size: nothing caps it' : keep === '-1' ? 'max_slot_wal_keep_size = -1 (unlimited): pg_wal grows until the disk is full' : `max_slot_wal_keep_size = ${keep} MB caps it`;
  for (const slot of primary.slots.filter((s) => !s.active && s.restartLsn !== null && s.walStatus !== 'lost')) {
    const ownSlot = slot.name === name;
    const detail = `slot ${slot.name} retains ${formatBytes(slot.retainedBytes ?? 0)} of WAL; ${cap}`;
    found.push(
      finding(
        'slot-inactive',
        [fromQuery('primary', 'pg_replication_slots', primary.clock, [slotLine(slot)])],
        ownSlot
          ? { text: `it is this standby's own slot (primary_slot_name): make the standby stream again (see the errors) rather than drop it; set max_slot_wal_keep_size to cap the risk` }
          : { text: `if no standby uses it: SELECT pg_drop_replication_slot('${slot.name}'); set max_slot_wal_keep_size (e.g. ALTER SYSTEM SET max_slot_wal_keep_size = '10GB') to cap the risk`, repairs: ['drop-slot'] },
        { slot: slot.name, detail },
      ),
    );
  }
  return found;
}

function identity(ctx: Context): Finding[] {
  const { primary, standby } = ctx.facts;
  if (!isOtherCluster(standby.systemIdentifier, primary.systemIdentifier)) return [];
  return [
    finding(
      'sysid-mismatch',
      [fromQuery('standby', 'pg_control_system() / pg_controldata', standby.clock, [`system identifier: primary ${primary.systemIdentifier}, standby ${standby.systemIdentifier}`]), ...logEvidence(ctx, 'sysid-mismatch')],
      { repairs: ['reclone'] },
    ),
  ];
}

/** WAL the standby asked for that the primary no longer has (the segment named in the line). */
function walRemoved(ctx: Context): Finding[] {
  if (ctx.streaming) return [];
  const { primary } = ctx.facts;
  const line = lastWith(ctx.standbyWindow, 'wal-removed') ?? lastWith(ctx.primaryWindow, 'wal-removed');
  const segment = line && /requested WAL segment (\S+) has already been removed/.exec(line.line)?.[1];
  if (!segment) return [];
  if (primary.oldestWalSegment !== undefined && segment.slice(8) >= primary.oldestWalSegment.slice(8)) return [];
  const oldest = primary.oldestWalSegment ? [fromQuery('primary', 'pg_ls_waldir()', primary.clock, [`oldest WAL segment on the primary: ${primary.oldestWalSegment}; the standby needs ${segment}`])] : [];
  return [finding('wal-removed', [...logEvidence(ctx, 'wal-removed'), ...oldest], { repairs: ctx.ownSlot && ctx.ownSlot.walStatus !== 'lost' ? ['reclone'] : ['slot', 'reclone'] })];
}

function timeline(ctx: Context): Finding[] {
  const { primary, standby } = ctx.facts;
  if (ctx.streaming || standby.inRecovery === false) return [];
  const evidence = logEvidence(ctx, 'timeline-diverged');
  if (evidence.length === 0) return [];
  const timelines = primary.timeline !== undefined && standby.timeline !== undefined ? [fromQuery('standby', 'timelines', standby.clock, [`primary on timeline ${primary.timeline}, standby on timeline ${standby.timeline}`])] : [];
  return [finding('timeline-diverged', [...evidence, ...timelines], { repairs: ['reclone'] })];
}

/** An LSN ("16/B374D848") as a byte position. */
const lsnBytes = (lsn: string) => {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
};

/** The standby asks the primary for WAL beyond the primary's end: the primary lost WAL the standby replayed. */
function standbyAhead(ctx: Context): Finding[] {
  const { primary, standby } = ctx.facts;
  if (ctx.streaming || standby.inRecovery === false) return [];
  // The primary refuses right after accepting the stream, a moment before the standby logs "started streaming": its line
  // can fall before the standby's window, so the primary's log counts since its own start.
  const standbyLine = lastWith(ctx.standbyWindow, 'standby-ahead');
  if (!standbyLine) return [];
  const primaryLine = lastWith(
    sinceStart(primary.log.entries).filter((entry) => aboutThisStandby(entry, ctx.standbyAddresses)),
    'standby-ahead',
  );
  const evidence = [...fromLog(standby.log, standbyLine), ...fromLog(primary.log, primaryLine)];
  const { replayLsn } = standby;
  const { flushLsn } = primary;
  const ahead = replayLsn !== undefined && flushLsn !== undefined ? lsnBytes(replayLsn) - lsnBytes(flushLsn) : undefined;
  // The primary has written past the standby since: the line is about an earlier state.
  if (ahead !== undefined && ahead <= 0n) return [];
  const positions =
    ahead === undefined ? [] : [fromQuery('standby', 'pg_last_wal_replay_lsn() on the standby, pg_current_wal_flush_lsn() on the primary', standby.clock, [`the standby replayed up to ${replayLsn}, the primary's WAL ends at ${flushLsn}: ${formatBytes(Number(ahead))} the primary does not have`])];
  return [
    finding('standby-ahead', [...positions, ...evidence], { repairs: ['reclone'] }, { detail: ahead === undefined ? 'the standby asks for WAL beyond the end of the primary\'s' : `the standby is ${formatBytes(Number(ahead))} ahead of the primary (replayed ${replayLsn}, primary at ${flushLsn})` }),
  ];
}

/** A stopped standby that cannot find the checkpoint it must start from: its own copy is incomplete. */
function checkpointMissing(ctx: Context): Finding[] {
  const { standby } = ctx.facts;
  if (standby.running) return [];
  const failed = lastWith(sinceStart(standby.log.entries), 'checkpoint-missing');
  if (!failed) return [];
  const label = standby.backupLabel
    ? 'backup_label present: a copy whose backup_label names a checkpoint no WAL in pg_wal holds'
    : 'no backup_label: the checkpoint pg_control names is not in pg_wal';
  return [
    finding('checkpoint-missing', [fromQuery('standby', 'data directory', standby.clock, [label]), ...fromLog(standby.log, failed)], { repairs: ['reclone'] }, {
      detail: standby.backupLabel ? 'the data directory was copied without the WAL its backup_label needs' : "WAL that the data directory's last checkpoint is in was removed from pg_wal",
    }),
  ];
}

/** A duration setting as pg_settings gives it (milliseconds), with its unit. */
const milliseconds = (value: string | undefined) => (value !== undefined && /^\d+$/.test(value) ? `${value} ms` : value);

function replayPaused(ctx: Context): Finding[] {
  const { standby } = ctx.facts;
  // PostgreSQL 14+ pauses replay itself when a hot-standby setting is too low: hot-standby-params is that cause.
  if (!standby.running || !standby.inRecovery || !standby.replayPaused || lowHotStandbySettings(ctx).length > 0) return [];
  const behind = formatBytes(standby.applyBytes ?? 0);
  const replayed = standby.replayAgeSeconds === undefined ? '' : `, last replayed transaction ${standby.replayAgeSeconds.toFixed(0)} s ago`;
  return [
    finding(
      'replay-paused',
      [
        fromQuery('standby', 'pg_is_wal_replay_paused(), pg_stat_wal_receiver', standby.clock, [`pg_is_wal_replay_paused() = true; walreceiver ${standby.receiverStatus ?? 'not running'}; ${behind} received and not replayed${replayed}`]),
        ...fromLog(standby.log, lastWith(sinceStart(standby.log.entries), 'replay-paused')),
      ],
      {},
      { detail: `${behind} received and not replayed while replay is paused` },
    ),
  ];
}

/** Standby queries cancelled since it started: info, with the setting that would have spared them. */
function recoveryConflicts(ctx: Context): Finding[] {
  const { standby } = ctx.facts;
  const cancelled = sinceStart(standby.log.entries).filter((entry) => entryIds(entry).includes('recovery-conflict'));
  if (cancelled.length === 0) return [];
  const feedback = standby.settings.hot_standby_feedback;
  const delay = standby.settings.max_standby_streaming_delay;
  const shown = [
    ...(feedback === undefined ? [] : [`hot_standby_feedback = ${feedback}`]),
    ...(delay === undefined ? [] : [`max_standby_streaming_delay = ${milliseconds(delay)}`]),
  ];
  const rowVersions = cancelled.some((entry) => entry.more.some((line) => /row versions that must be removed/.test(line)));
  const text =
    rowVersions && feedback !== 'on'
      ? 'set hot_standby_feedback = on on the standby (reload; the primary then keeps the row versions standby queries still need: some bloat), or raise max_standby_streaming_delay'
      : `raise max_standby_streaming_delay on the standby (reload; replay then waits longer for such queries: more lag)${feedback === 'on' ? '' : '; if the DETAIL names row versions, hot_standby_feedback = on'}, or run such queries elsewhere`;
  return [
    finding('recovery-conflict', [...(shown.length > 0 ? [fromQuery('standby', standby.settingsSource, standby.clock, shown)] : []), ...fromLog(standby.log, ...cancelled.slice(-2))], { text }, { detail: `${cancelled.length} cancelled since the standby started` }),
  ];
}

/** Replication connections ended by a timeout since the servers started: info, with both timeouts. */
function replicationTimeouts(ctx: Context): Finding[] {
  const { primary, standby } = ctx.facts;
  const ended = (log: ServerLog) =>
    sinceStart(log.entries).filter((entry) => entryIds(entry).includes('walsender-timeout') && (log.host === 'standby' || aboutThisStandby(entry, ctx.standbyAddresses)));
  const onPrimary = ended(primary.log);
  const onStandby = ended(standby.log);
  if (onPrimary.length + onStandby.length === 0) return [];
  const settings = [`wal_sender_timeout = ${milliseconds(primary.settings.wal_sender_timeout) ?? 'unknown'} on the primary`, `wal_receiver_timeout = ${milliseconds(standby.settings.wal_receiver_timeout) ?? 'unknown'} on the standby`];
  const counts = [...(onPrimary.length > 0 ? [`${onPrimary.length} by the primary's walsender`] : []), ...(onStandby.length > 0 ? [`${onStandby.length} by the standby's walreceiver`] : [])];
  return [
    finding(
      'walsender-timeout',
      [fromQuery('primary', 'pg_settings (both servers)', primary.clock, settings), ...fromLog(primary.log, ...onPrimary.slice(-2)), ...fromLog(standby.log, ...onStandby.slice(-2))],
      {},
      { detail: `connections ended for silence since the servers started: ${counts.join(', ')}` },
    ),
  ];
}

/** Walsenders (base backups aside) that report the same application_name as another. */
function applicationNameCollisions(ctx: Context): Finding[] {
  const { primary } = ctx.facts;
  const receivers = primary.walSenders.filter((sender) => sender.state !== 'backup');
  const names = [...new Set(receivers.map((sender) => sender.applicationName))].filter((name) => receivers.filter((sender) => sender.applicationName === name).length > 1);
  const synchronous = primary.settings.synchronous_standby_names ?? '';
  return names.map((name) => {
    const same = receivers.filter((sender) => sender.applicationName === name);
    const listed = same.map((sender) => `pid ${sender.pid} from ${sender.clientAddr ?? 'a local socket'} (${sender.state})`);
    const namedSynchronous = namesStandby(parseSyncList(synchronous), name);
    const stake = namedSynchronous ? ` synchronous_standby_names = '${synchronous}' names it: any of them can confirm commits for the others.` : '';
    return finding(
      'application-name-collision',
      [fromQuery('primary', 'pg_stat_replication', primary.clock, [`application_name "${name}": ${listed.join(', ')}`])],
      { text: `${catalog['application-name-collision'].fix}.${stake}` },
      { detail: `${same.length} WAL receivers report application_name "${name}"` },
    );
  });
}

/** What the server says when a commit's wait for standbys is cancelled or its session ended (PG 10–18, syncrep.c; seen on the lab's 15). */
const syncWaitCancelled = /canceling (the )?wait for synchronous replication/;

/**
 * The commit hang: synchronous_standby_names asks for more confirmations than the listed
 * standbys that stream can give. Proven by pg_stat_replication against the list; the sessions
 * waiting on SyncRep (pg_stat_activity) show who is held, and cancelled waits in the log since
 * the primary started show it was felt already.
 */
function syncCommitHang(ctx: Context): Finding[] {
  const { primary } = ctx.facts;
  const list = parseSyncList(primary.settings.synchronous_standby_names ?? '');
  if (!list || !primary.sync) return [];
  const { standbys, waiting } = primary.sync;
  const streaming = standbys.filter((standby) => standby.state === 'streaming').map((standby) => standby.name);
  if (satisfiable(list, streaming)) return [];
  const eligible = eligibleStandbys(list, streaming);
  const listed = list.names.map((name) => {
    if (name === '*') return `* (any standby): ${streaming.length} stream`;
    const seen = standbyNamed(standbys, name);
    return seen ? `${name}: ${seen.state}, sync_state ${seen.syncState}` : `${name}: not connected`;
  });
  const lowered = eligible.length === 0 ? "'' (off)" : `'${formatSyncList({ ...list, count: eligible.length })}'`;
  const cancelled = sinceStart(primary.log.entries).filter((entry) => syncWaitCancelled.test(entry.line)).slice(-2);
  return [
    finding(
      'sync-commit-hang',
      [
        fromQuery('primary', 'pg_settings, pg_stat_replication', primary.clock, [`synchronous_standby_names = '${primary.settings.synchronous_standby_names}': each commit waits for ${list.count} of ${list.names.join(', ')}`, ...listed]),
        ...(waiting.length > 0
          ? [fromQuery('primary', "pg_stat_activity (wait_event = 'SyncRep')", primary.clock, waiting.map((session) => `pid ${session.pid} (${session.user} on ${session.database}) waits in its commit for ${session.waitingSeconds} s: ${session.query}`))]
          : []),
        ...fromLog(primary.log, ...cancelled),
      ],
      {
        text: `${catalog['sync-commit-hang'].fix}; here: start ${missingStandbys(list, streaming).join(', ')}, or set synchronous_standby_names = ${lowered}`,
        repairs: ['sync-release'],
        action: `sets synchronous_standby_names = ${lowered} (ALTER SYSTEM, postgresql.auto.conf backed up; a reload), then a canary commit must return and no session wait on SyncRep`,
      },
      { detail: `${eligible.length} of the ${list.count} standbys each commit waits for stream${waiting.length > 0 ? `; ${waiting.length} session(s) wait in their commit now` : '; the next writing commit will wait'}` },
    ),
  ];
}

function lag(ctx: Context): Finding[] {
  const { standby } = ctx.facts;
  // A paused replay is its own finding (replay-paused).
  if (!ctx.streaming || standby.replayPaused) return [];
  const bytes = ctx.ownSender?.replayBytes ?? standby.applyBytes ?? 0;
  // replay_lag is measured by the primary and null once caught up; the age of the last replayed
  // transaction is not a lag on an idle primary.
  const seconds = ctx.ownSender?.replayLagSeconds ?? 0;
  if (bytes < lagWarningBytes && seconds < lagWarningSeconds) return [];
  const sender = ctx.ownSender;
  return [
    finding(
      'replication-lag',
      [
        ...(sender ? [fromQuery('primary', 'pg_stat_replication', ctx.facts.primary.clock, [`${sender.applicationName} from ${sender.clientAddr}: state ${sender.state}, sent ${sender.sentLsn}, replayed ${sender.replayLsn}, ${sender.replayBytes ?? '?'} bytes behind, replay_lag ${sender.replayLagSeconds ?? 'null'} s`])] : []),
        fromQuery('standby', 'pg_stat_wal_receiver, pg_last_xact_replay_timestamp()', standby.clock, [`receiver ${standby.receiverStatus}, ${standby.applyBytes ?? '?'} bytes received but not replayed, last replayed transaction ${standby.replayAgeSeconds?.toFixed(0) ?? '?'} s ago`]),
      ],
      {},
      { detail: `${formatBytes(bytes)} and ${Math.round(seconds)} s behind` },
    ),
  ];
}

function elsewhere(ctx: Context): Finding[] {
  const { primary, relationship, standby } = ctx.facts;
  if (relationship.hostAddresses.length === 0 || relationship.hostAddresses.some((address) => primary.addresses.includes(address))) return [];
  return [
    finding('primary-conninfo-elsewhere', [fromQuery('standby', relationship.source, standby.clock, [`primary_conninfo host ${relationship.params.hostaddr ?? relationship.params.host} is ${relationship.hostAddresses.join(', ')}; the primary's addresses are ${primary.addresses.join(', ')}`])]),
  ];
}

/** An archive filesystem with less than this share free is worth a warning. */
export const archiveFreeShare = 0.1;

/** The primary's archiving: stuck now (pg_stat_archiver, with the log's reason), or its archive filling up. */
function archiving(ctx: Context): Finding[] {
  const { primary } = ctx.facts;
  const found: Finding[] = [];
  const archiver = primary.archiver;
  if (archiver?.failing) {
    const logged = sinceStart(primary.log.entries).filter((entry) => entryIds(entry).includes('archive-failing')).slice(-2);
    const state = [
      `failed_count = ${archiver.failedCount}, last_failed_wal = ${archiver.lastFailedWal} at ${archiver.lastFailedAt}`,
      `last_archived_wal = ${archiver.lastArchivedWal ?? 'none'}${archiver.lastArchivedAt ? ` at ${archiver.lastArchivedAt}` : ''}`,
      `${archiver.waiting} segment(s) wait in pg_wal/archive_status`,
    ];
    found.push(
      finding('archive-failing', [fromQuery('primary', 'pg_stat_archiver', primary.clock, state), ...fromLog(primary.log, ...logged)], {}, {
        detail: `${archiver.lastFailedWal} cannot be archived; ${archiver.waiting} segment(s) wait in pg_wal`,
      }),
    );
  }
  const archive = primary.archive;
  if (archive && archive.freeBytes < archive.sizeBytes * archiveFreeShare) {
    const free = `${formatBytes(archive.freeBytes)} free of ${formatBytes(archive.sizeBytes)} on the filesystem of ${archive.dir}`;
    found.push(finding('archive-space', [fromQuery('primary', `df ${archive.dir}`, primary.clock, [free])], {}, { detail: free }));
  }
  return found.concat(archiveCleanup(ctx));
}

/**
 * An archive only the primary sees grows until cleaned: propose the cleanup, with its exact
 * command, once it holds more than max_wal_size that nothing needs. What is needed is the
 * oldest of the primary's checkpoint redo, every slot's restart_lsn and every connected
 * standby's replay position, and an operator's base backup in the archive; with this pair's
 * standby neither streaming nor on a slot, its needs are unknown and nothing is proposed.
 */
function archiveCleanup(ctx: Context): Finding[] {
  const { primary, standby } = ctx.facts;
  const { archive, walNeed } = primary;
  const standbyCleans = standby.settings.archive_cleanup_command || autoConfValue(standby.recoveryConf ?? '', 'archive_cleanup_command');
  if (!archive || !walNeed || standbyCleans || (!ctx.streaming && !ctx.ownSlot)) return [];
  const cleanup = archiveCleanupOf(archive, walNeed.keepFrom);
  const { removable } = cleanup;
  if (cleanup.bytes <= walNeed.maxWalBytes) return [];
  const command = commandLine([archive.archiveCleanup ?? 'pg_archivecleanup', archive.dir, cleanup.keepFrom]);
  const needs = [
    `the oldest segment still needed: ${walNeed.keepFrom} (checkpoint redo ${walNeed.checkpointRedo}; oldest slot restart_lsn ${walNeed.oldestSlotRestart ?? 'none'}; oldest standby replay_lsn ${walNeed.oldestStandbyReplay ?? 'none connected'})`,
    ...(cleanup.heldBy ? [`the oldest base backup in the archive: ${cleanup.heldBy.name} (label "${cleanup.heldBy.label}"), which starts earlier`] : []),
    `${archive.dir}: ${removable.length} WAL file(s) older than ${cleanup.keepFrom}, ${removable[0].name} to ${removable.at(-1)!.name} (${formatBytes(cleanup.bytes)}; max_wal_size ${formatBytes(walNeed.maxWalBytes)})`,
  ];
  return [
    finding('archive-cleanup', [fromQuery('primary', 'pg_control_checkpoint(), pg_replication_slots, pg_stat_replication, the archive', primary.clock, needs)], {
      text: `on the primary, as the server's OS user: ${command} (removes the ${removable.length} WAL file(s) before ${cleanup.keepFrom}; it ${keepReason(walNeed, cleanup)}); a standby that is neither connected nor on a slot may still need some: check first`,
      repairs: ['archive-cleanup'],
    }, { detail: `${formatBytes(cleanup.bytes)} in ${removable.length} WAL file(s) nothing needs: ${command}` }),
  ];
}

/**
 * Causes the standby's log shows that the live state no longer does: before it began
 * streaming again, or, while it waits for its next attempt, in the attempts since. Info only.
 */
function resolved(ctx: Context, current: readonly Finding[]): Finding[] {
  const { standby } = ctx.facts;
  const waiting = !ctx.streaming && standby.running && standby.inRecovery !== false;
  if (!ctx.streaming && !waiting) return [];
  const episode = ctx.streaming ? episodeBeforeStreaming(standby.log.entries) : ctx.standbyWindow;
  const resumed = ctx.streaming ? standby.log.entries.filter(isStreamingStart).at(-1) : undefined;
  const ids = [...new Set(episode.flatMap(entryIds))].filter((id) => !current.some((f) => f.id === id));
  const fix = ctx.streaming ? 'nothing to do: the standby streams again' : 'nothing to do: the standby tries again every wal_retrieve_retry_interval (5 s by default)';
  const label = ctx.streaming ? 'resolved' : 'no longer the case, the standby has not retried yet';
  return ids.map((id) => finding(id, fromLog(standby.log, lastWith(episode, id), resumed), { text: fix }, { severity: 'info', title: `${label}: ${catalog[id].title}`, resolved: ctx.streaming ? true : undefined }));
}

const loopback = /^(127\.|::1$)/;

function context(facts: DoctorFacts, passwordKnown: boolean): Context {
  const { primary, standby, relationship } = facts;
  const standbyAddresses = standby.addresses.filter((address) => !loopback.test(address));
  const ownSlot = relationship.slotName ? primary.slots?.find((slot) => slot.name === relationship.slotName) : undefined;
  const fromStandby = primary.walSenders.filter((sender) => sender.clientAddr !== null && standbyAddresses.includes(sender.clientAddr));
  const ownSender = fromStandby.find((sender) => sender.pid === ownSlot?.activePid) ?? fromStandby[0];
  const streaming = standby.receiverStatus === 'streaming' || (standby.sqlError !== undefined && ownSender?.state === 'streaming');
  const windowStart = currentWindowStart(standby.log.entries);
  return {
    facts,
    passwordKnown,
    streaming,
    ownSlot,
    ownSender,
    standbyAddresses,
    standbyWindow: currentStandbyWindow(standby.log.entries),
    primaryWindow: sinceStart(primary.log.entries).filter((entry) => aboutThisStandby(entry, standbyAddresses) && (windowStart === undefined || entry.at === undefined || entry.at >= windowStart)),
    endpoints: {
      roleName: replicationUser(relationship, 'postgres'),
      slotName: relationship.slotName ?? '<slot>',
      primaryAddress: relationship.params.hostaddr ?? relationship.params.host ?? '<primary address>',
      primaryPort: Number(relationship.params.port ?? primary.settings.port ?? 5432),
      standbyAddress: relationship.standbyAddress ?? standbyAddresses[0] ?? '<standby address>',
      passfile: relationship.passfile,
    },
  };
}

/** `passwordKnown`: PGREPL_PASSWORD is set, or the standby has the password (passfile, primary_conninfo). */
export function diagnose(facts: DoctorFacts, passwordKnown: boolean): Diagnosis {
  const ctx = context(facts, passwordKnown || facts.relationship.storedPassword !== undefined || facts.relationship.params.password !== undefined);
  // Causes first; a stopped standby is often their consequence.
  const current = [standbyRole, recoveryConf, hotStandbyParams, walLevel, connection, slots, identity, walRemoved, timeline, standbyAhead, checkpointMissing, standbyDown, replayPaused, lag, recoveryConflicts, replicationTimeouts, applicationNameCollisions, elsewhere, archiving, syncCommitHang].flatMap((detect) => detect(ctx));
  const findings = [...current, ...resolved(ctx, current)].sort((a, b) => severityOrder.indexOf(a.severity) - severityOrder.indexOf(b.severity));
  return { healthy: !findings.some((f) => f.severity === 'error'), findings, replication: replicationState(ctx) };
}

function replicationState(ctx: Context): ReplicationState {
  const { primary, standby } = ctx.facts;
  const server = (facts: typeof primary | typeof standby): ServerState => ({ clusterId: facts.clusterId, running: facts.running, inRecovery: facts.inRecovery });
  const slot = ctx.ownSlot;
  return {
    primary: server(primary),
    standby: { ...server(standby), receiverStatus: standby.receiverStatus },
    replayBytes: ctx.ownSender?.replayBytes ?? standby.applyBytes,
    replayLagSeconds: ctx.ownSender ? ctx.ownSender.replayLagSeconds : undefined,
    slot: slot && { name: slot.name, active: slot.active, retainedBytes: slot.retainedBytes, walStatus: slot.walStatus },
    lastMessageAt: standby.lastMessageAt,
    lastMessageAgeSeconds: standby.lastMessageAgeSeconds,
  };
}
