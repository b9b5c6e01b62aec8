import { clientTool } from '../../src/facts/clusters.js';
import { parseSpace, spaceNeeded, tablespacesSql, unmatchedMappings, withTargets, type PathSpace, type Tablespace } from './tablespaces.js';
import { WizardError } from '../../src/errors.js';
import * as privileged from '../../src/remote/commands.js';
import { sameCluster, type ClusterIdentity } from '../../src/facts/identity.js';
import type { SetupSettings, Side, StepContext } from '../contract.js';
import { where } from '../contract.js';
import { runningAddress, servesAsPrimary, systemIdentifier } from '../../src/facts/live.js';
import { findPassfileEntry } from './passfile.js';
import { passfileParams, probeReplication, type ProbeOutcome } from '../../src/facts/replication.js';
import { replicationFix } from '../../src/catalog/replication-errors.js';
import { olderClientFix } from '../../src/catalog/clone-failures.js';
import { hotStandbyMinimums, settingsToRaise } from './standby-config.js';
import { findPgRewind } from './rewind.js';

/**
 * Everything checked before the standby's data is touched: what repmgr checks before
 * `standby clone` (postgres-facts.md / peer-tools.md), plus free disk, versions, a real
 * replication connection from the standby, and proof the target is not the primary.
 * Gathering reads both hosts and changes nothing; judging is a pure function.
 */

export interface PrimaryCloneFacts {
  versionNum: number;
  version: string;
  inRecovery: boolean;
  walLevel: string;
  maxWalSenders: number;
  walsenders: number;
  maxReplicationSlots: number;
  walKeep: string | null;
  hotStandby: string;
  archiveMode: string;
  archiveCommand: string;
  archiveLibrary: string;
  dataChecksums: string;
  walLogHints: string;
  systemIdentifier: string;
  dataDirectory: string;
  dataBytes: number;
  tablespaces: Tablespace[];
  /** The standby's server OS user and whether the primary has a login role of that name (peer authentication needs it after the clone). */
  standbyUser: { name: string; canLogin: boolean | null };
  slot: { slot_type: string; active: boolean; active_pid: number | null; wal_status?: string } | null;
  /** The settings a hot standby needs at least as high (hotStandbyMinimums), as the primary runs with them. */
  hotStandbyMinimums: Record<string, string>;
}

/** Which host (as the operator named it) and which cluster, as discovery proved it. */
export interface HostIdentity {
  label: string;
  cluster: ClusterIdentity;
}

export interface StandbyCloneFacts {
  major: number;
  port: number;
  dataDirectory: string;
  basebackupVersion?: string;
  running: boolean;
  servesAsPrimary?: string;
  systemIdentifier?: string;
  freeBytes?: number;
  /** A side directory left by an interrupted clone: removed (and its space freed) first. */
  leftoverBytes: number;
  dataDirIsMountPoint: boolean;
  /** Free space and emptiness of the data directory's parent and of each tablespace's standby path. */
  spaces: PathSpace[];
  /** The same settings as the standby's cluster runs with them now; undefined while it is stopped. */
  hotStandbyMinimums?: Record<string, string>;
}

export type ConnectionTest = { ran: false; reason: string } | ({ ran: true } & ProbeOutcome);

export interface CloneFacts {
  primary: PrimaryCloneFacts | { unreachable: string };
  primaryHost: HostIdentity;
  primaryPort: number;
  standby: StandbyCloneFacts;
  standbyHost: HostIdentity;
  connection: ConnectionTest;
  /** The "primary" is a cascade's upstream: a standby, in recovery by design. */
  cascade?: boolean;
  /** Whether each host has a pg_rewind of its server's major (the only one that rewinds it). */
  pgRewind: { primary: boolean; standby: boolean };
}

export interface Finding {
  name: string;
  side: Side;
  status: 'ok' | 'warn' | 'fail' | 'skipped';
  /** What was seen; for a failure, the cause. */
  detail: string;
  fix?: string;
  /** Set up by the earlier steps of the run (primary settings, role, pg_hba, slot). */
  earlierSteps: boolean;
}

export const sideDirectory = (dataDirectory: string) => `${dataDirectory}.pgrepl-new`;

async function primaryFacts(ctx: StepContext): Promise<CloneFacts['primary']> {
  const address = await runningAddress(ctx.primary);
  if (!address) return { unreachable: `cluster ${ctx.primary.cluster.id} is not running` };
  try {
    const [row] = await ctx.primary.host.sql<Omit<PrimaryCloneFacts, 'slot' | 'dataBytes' | 'tablespaces'> & { dataBytes: string; tablespaces: Parameters<typeof withTargets>[0] }>(
      address,
      `SELECT current_setting('server_version_num')::int AS "versionNum",
              current_setting('server_version') AS version,
              pg_is_in_recovery() AS "inRecovery",
              current_setting('wal_level') AS "walLevel",
              current_setting('max_wal_senders')::int AS "maxWalSenders",
              (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'walsender') AS walsenders,
              current_setting('max_replication_slots')::int AS "maxReplicationSlots",
              coalesce(current_setting('wal_keep_size', true), current_setting('wal_keep_segments', true)) AS "walKeep",
              current_setting('hot_standby') AS "hotStandby",
              current_setting('archive_mode') AS "archiveMode",
              current_setting('archive_command') AS "archiveCommand",
              coalesce(current_setting('archive_library', true), '') AS "archiveLibrary",
              current_setting('data_checksums') AS "dataChecksums",
              current_setting('wal_log_hints') AS "walLogHints",
              (SELECT system_identifier::text FROM pg_control_system()) AS "systemIdentifier",
              current_setting('data_directory') AS "dataDirectory",
              ((SELECT sum(pg_database_size(oid)) FROM pg_database) + (SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()))::text AS "dataBytes",
              ${tablespacesSql} AS tablespaces,
              (SELECT jsonb_object_agg(name, setting) FROM pg_settings WHERE name = ANY($1)) AS "hotStandbyMinimums"`,
      [hotStandbyMinimums(ctx.standby.cluster.major)],
    );
    const [slot] = await ctx.primary.host.sql<{ slot: PrimaryCloneFacts['slot'] }>(
      address,
      'SELECT to_jsonb(s) AS slot FROM pg_replication_slots s WHERE slot_name = $1',
      [ctx.settings.slotName],
    );
    const standbyUser = ctx.standby.host.serverUser;
    const [role] = await ctx.primary.host.sql<{ can_login: boolean }>(address, 'SELECT rolcanlogin AS can_login FROM pg_roles WHERE rolname = $1', [standbyUser]);
    return {
      ...row,
      dataBytes: Number(row.dataBytes),
      tablespaces: withTargets(row.tablespaces, ctx.settings),
      standbyUser: { name: standbyUser, canLogin: role ? role.can_login : null },
      slot: slot?.slot ?? null,
    };
  } catch (error) {
    return { unreachable: error instanceof Error ? error.message : String(error) };
  }
}

/** Read once, at discovery: neither the kernel nor the data directories change before the clone. */
const identity = (ctx: StepContext, side: Side): HostIdentity => ({ label: ctx[side].host.label, cluster: ctx[side].facts.identity });

export const dataParent = (dataDirectory: string) => dataDirectory.replace(/\/[^/]+\/?$/, '') || '/';

/** `tablespaces` is the primary's answer, awaited only for the one read that needs it. */
async function standbyFacts(ctx: StepContext, tablespaces: Promise<Tablespace[]>): Promise<StandbyCloneFacts> {
  const { host, cluster } = ctx.standby;
  const side = sideDirectory(cluster.dataDirectory);
  const parent = dataParent(cluster.dataDirectory);
  const [basebackup, df, leftover, mountPoint, sysid, address, spaces] = await Promise.all([
    host.exec([clientTool(cluster, 'pg_basebackup'), '--version']),
    host.exec(privileged.freeSpace(parent), { as: 'postgres' }),
    host.exec(privileged.diskUsage(side), { as: 'postgres' }),
    host.exec(privileged.isMountPoint(cluster.dataDirectory), { as: 'postgres' }),
    systemIdentifier(ctx.standby),
    runningAddress(ctx.standby),
    tablespaces.then((list) => host.exec(privileged.pathSpace([parent, ...list.map((t) => t.target)]), { as: 'postgres' })),
  ]);
  const available = df.stdout.split('\n')[1]?.trim().split(/\s+/)[3];
  return {
    major: cluster.major,
    port: cluster.port,
    dataDirectory: cluster.dataDirectory,
    basebackupVersion: basebackup.code === 0 ? basebackup.stdout.trim().replace(/^pg_basebackup \(PostgreSQL\) /, '') : undefined,
    running: address !== undefined,
    servesAsPrimary: address ? await servesAsPrimary(ctx.standby, address) : undefined,
    hotStandbyMinimums: address ? await runningSettings(ctx, address) : undefined,
    systemIdentifier: sysid,
    freeBytes: available ? Number(available) : undefined,
    leftoverBytes: leftover.code === 0 ? Number(leftover.stdout.split(/\s/)[0]) : 0,
    dataDirIsMountPoint: mountPoint.code === 0,
    spaces: parseSpace(spaces.stdout),
  };
}

async function runningSettings(ctx: StepContext, address: NonNullable<StepContext['standby']['address']>): Promise<Record<string, string>> {
  const rows = await ctx.standby.host.sql<{ name: string; setting: string }>(address, 'SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [hotStandbyMinimums(ctx.standby.cluster.major)]);
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}

/** The standby's passfile as it is, and whether it already holds this run's password. */
export async function passwordStored(ctx: StepContext): Promise<{ current: string | null; stored: boolean }> {
  return passwordIn(ctx, await ctx.standby.host.readFile(ctx.settings.passfile, 'postgres'));
}

/** Whether the passfile's text `current` already holds this run's password. */
export function passwordIn(ctx: StepContext, current: string | null): { current: string | null; stored: boolean } {
  const { settings } = ctx;
  const stored = current !== null && findPassfileEntry(current, settings.primaryAddress, ctx.primary.cluster.port, settings.roleName) === settings.password;
  return { current, stored };
}

/**
 * The replication connection is tried only with the right password already in the passfile:
 * in plan mode nothing may be written, so a missing entry means "at apply time". In apply
 * mode the clone has just stored it.
 */
async function connectionTest(ctx: StepContext, mode: 'plan' | 'apply'): Promise<ConnectionTest> {
  const { settings } = ctx;
  if (mode === 'plan' && !(await passwordStored(ctx)).stored) {
    return { ran: false, reason: `${settings.passfile} does not hold the password yet; it is written, and this connection tried, right before the clone` };
  }
  return { ran: true, ...(await probeReplication(ctx.standby, passfileParams(settings, ctx.primary.cluster.port))) };
}

export async function gatherCloneFacts(ctx: StepContext, mode: 'plan' | 'apply'): Promise<CloneFacts> {
  const primaryRead = primaryFacts(ctx);
  const tablespaces = primaryRead.then((primary) => ('unreachable' in primary ? [] : primary.tablespaces));
  const found = async (side: 'primary' | 'standby') => 'path' in (await findPgRewind(ctx[side]));
  const [primary, connection, standby, primaryRewind, standbyRewind] = await Promise.all([primaryRead, connectionTest(ctx, mode), standbyFacts(ctx, tablespaces), found('primary'), found('standby')]);
  return {
    primary,
    primaryHost: identity(ctx, 'primary'),
    primaryPort: ctx.primary.cluster.port,
    standby,
    standbyHost: identity(ctx, 'standby'),
    connection,
    cascade: ctx.origin !== undefined,
    pgRewind: { primary: primaryRewind, standby: standbyRewind },
  };
}

const major = (versionNum: number) => (versionNum >= 100000 ? Math.floor(versionNum / 10000) : Math.floor(versionNum / 100) / 100);
const enabled = (value: string) => /^(on|true|yes|1|always)$/i.test(value);
export const size = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.ceil(bytes / 1024 ** 2)} MB`);

/** The verdict on every precheck, in the order an operator reads them. */
export function judgeCloneFacts(facts: CloneFacts, settings: SetupSettings): Finding[] {
  const findings: Finding[] = [];
  const add = (name: string, side: Side, earlierSteps: boolean, verdict: Pick<Finding, 'status' | 'detail' | 'fix'>) =>
    findings.push({ name, side, earlierSteps, ...verdict });
  const ok = (detail: string) => ({ status: 'ok' as const, detail });
  const { standby, primaryPort } = facts;

  if ('unreachable' in facts.primary) {
    add('primary-reachable', 'primary', false, {
      status: 'fail',
      detail: `cannot query the primary: ${facts.primary.unreachable}`,
      fix: 'start the primary cluster and check that it answers (pg_lsclusters / pg_ctl status)',
    });
  } else {
    const p = facts.primary;
    const primaryMajor = major(p.versionNum);
    add('primary-reachable', 'primary', false,
      p.inRecovery && !facts.cascade
        ? { status: 'fail', detail: 'the chosen primary is itself in recovery (a standby)', fix: 'pick the cluster that accepts writes as --primary' }
        : ok(`PostgreSQL ${p.version}, system identifier ${p.systemIdentifier}${facts.cascade ? ', a standby in recovery: the upstream of a cascade' : ''}`));
    add('same-major-version', 'standby', false,
      standby.major === primaryMajor
        ? ok(`both run PostgreSQL ${primaryMajor}`)
        : { status: 'fail', detail: `the standby's cluster is PostgreSQL ${standby.major}, the primary runs ${primaryMajor}`, fix: `install PostgreSQL ${primaryMajor} on the standby and choose that cluster with --standby-cluster` });
    const basebackupMajor = standby.basebackupVersion ? Number(/^(\d+)/.exec(standby.basebackupVersion)?.[1]) : undefined;
    add('pg_basebackup-version', 'standby', false,
      basebackupMajor !== undefined && basebackupMajor >= primaryMajor
        ? ok(`pg_basebackup ${standby.basebackupVersion}`)
        : { status: 'fail', detail: basebackupMajor === undefined ? "the standby cluster's pg_basebackup does not run" : `pg_basebackup ${standby.basebackupVersion} is older than the primary (${primaryMajor})`, fix: olderClientFix(primaryMajor) });
    add('wal-level', 'primary', true,
      ['replica', 'logical'].includes(p.walLevel)
        ? ok(`wal_level = ${p.walLevel}`)
        : { status: 'fail', detail: `wal_level = ${p.walLevel}: a standby cannot replay it`, fix: 'on the primary: ALTER SYSTEM SET wal_level = replica, then restart it' });
    const free = p.maxWalSenders - p.walsenders;
    add('free-walsenders', 'primary', true,
      free >= 2
        ? ok(`${free} of max_wal_senders = ${p.maxWalSenders} free (the clone uses 2)`)
        : { status: 'fail', detail: `only ${free} of max_wal_senders = ${p.maxWalSenders} free; pg_basebackup -X stream needs 2`, fix: 'on the primary: raise max_wal_senders (needs a restart) or end unused replication connections' });
    const slot = p.slot;
    add('replication-slot', 'primary', true,
      p.maxReplicationSlots < 1
        ? { status: 'fail', detail: 'max_replication_slots = 0', fix: 'on the primary: ALTER SYSTEM SET max_replication_slots = 10, then restart it' }
        : !slot
          ? { status: 'fail', detail: `slot ${settings.slotName} does not exist`, fix: `on the primary: SELECT pg_create_physical_replication_slot('${settings.slotName}')` }
          : slot.slot_type !== 'physical'
            ? { status: 'fail', detail: `slot ${settings.slotName} is a ${slot.slot_type} slot`, fix: 'choose another name with --slot' }
            : slot.active
              ? { status: 'fail', detail: `slot ${settings.slotName} is in use by walsender pid ${slot.active_pid}`, fix: `another standby streams through it: give this standby its own slot with --slot, or end pid ${slot.active_pid}` }
              : slot.wal_status === 'lost'
                ? { status: 'fail', detail: `slot ${settings.slotName} was invalidated (wal_status lost)`, fix: `on the primary: SELECT pg_drop_replication_slot('${settings.slotName}'); SELECT pg_create_physical_replication_slot('${settings.slotName}')` }
                : ok(`slot ${settings.slotName} exists and is free`));
    add('wal-retention', 'primary', true,
      slot || (p.walKeep !== null && !/^0/.test(p.walKeep))
        ? ok(slot ? `slot ${settings.slotName} keeps the WAL the standby needs` : `no slot; WAL kept by wal_keep = ${p.walKeep}`)
        : { status: 'fail', detail: 'no slot and no wal_keep_size: the primary may recycle WAL before the standby gets it', fix: `create slot ${settings.slotName} on the primary` });
    add('hot-standby', 'primary', false,
      enabled(p.hotStandby)
        ? ok('hot_standby = on')
        : { status: 'warn', detail: 'hot_standby = off on the primary; the standby gets hot_standby = on in its own configuration' });
    const archiving = p.archiveMode !== 'off';
    add('hot-standby-settings', 'standby', false, judgeHotStandbySettings(standby.major, p.hotStandbyMinimums, standby.hotStandbyMinimums));
    add('archive-command', 'primary', true,
      !archiving || p.archiveCommand !== '' || p.archiveLibrary !== ''
        ? ok(archiving ? `archive_mode = ${p.archiveMode}, archive_command set` : 'archive_mode = off')
        : { status: 'fail', detail: `archive_mode = ${p.archiveMode} but archive_command is empty: WAL piles up on the primary`, fix: 'on the primary: set archive_command (or pass --archive-dir), or turn archive_mode off' });
    const withoutRewind = (['primary', 'standby'] as const).filter((side) => !facts.pgRewind[side]);
    add('pg_rewind-ready', 'primary', false,
      !(enabled(p.dataChecksums) || enabled(p.walLogHints) || settings.walLogHints)
        ? { status: 'warn', detail: 'neither data checksums nor wal_log_hints on the primary (nor, after the clone, on the standby): a standby or former primary whose history forks can only be cloned again, pg_rewind refuses it; --wal-log-hints turns wal_log_hints on (a restart of the primary)' }
        : withoutRewind.length > 0
          ? {
              status: 'warn',
              detail: `no pg_rewind of PostgreSQL ${primaryMajor} on the ${withoutRewind.join(' nor on the ')} (pg_rewind works only on its own major's data directory; a hand-installed server often comes without it): doctor --fix would clone ${withoutRewind.length > 1 ? 'either server' : 'it'} again instead of rewinding it`,
              fix: `install it with the server package (postgresql-${primaryMajor} on Debian/Ubuntu, postgresql${primaryMajor}-server from PGDG) or from a source build's bin directory`,
            }
          : ok(`${enabled(p.dataChecksums) ? 'data checksums on' : 'wal_log_hints = on'}: the standby gets the same from the clone, so doctor --fix can rewind either server later (pg_rewind ${primaryMajor} is on both) instead of cloning it again`));
    add('tablespaces', 'standby', false, judgeTablespaces(p.tablespaces, standby, settings));
    // After the clone the standby has the primary's roles; the wizard reaches it as the role named like its OS user.
    const user = p.standbyUser.name;
    add('standby-os-user-role', 'standby', false,
      p.standbyUser.canLogin
        ? ok(`the standby's server runs as OS user ${user}, and role ${user} exists on the primary (peer authentication keeps working after the clone)`)
        : {
            status: 'fail',
            detail: `the standby's server runs as OS user ${user}, and the primary has no role ${user} that can log in: after the clone the standby has only the primary's roles, so nothing could connect to it as ${user} over its socket (peer authentication)`,
            fix: `on the primary: CREATE ROLE ${user} LOGIN SUPERUSER (it replicates to the standby); or run the standby's server as an OS user with a role on the primary (e.g. postgres)`,
          });
    const short = spaceNeeded(p.dataBytes, dataParent(standby.dataDirectory), p.tablespaces, standby.spaces).filter((fs) => fs.needed > fs.available);
    if (p.tablespaces.length > 0) {
      add('free-disk', 'standby', false,
        short.length === 0
          ? ok(`enough free space on every filesystem the copy goes to (${p.tablespaces.length + 1} directories; the old ones stay until the copy is complete)`)
          : { status: 'fail', detail: short.map((fs) => `${size(fs.available)} free on ${fs.mount}, ${fs.what.join(' and ')} need ${size(fs.needed)} (+10%)`).join('; '), fix: `free disk space on ${short.map((fs) => fs.mount).join(', ')} on the standby, or put the tablespaces elsewhere with --tablespace-map OLD=NEW` });
    }
    const needed = Math.ceil(p.dataBytes * 1.1);
    const available = standby.freeBytes === undefined ? undefined : standby.freeBytes + standby.leftoverBytes;
    if (p.tablespaces.length === 0) add('free-disk', 'standby', false,
      available !== undefined && available >= needed
        ? ok(`${size(available)} free for a ${size(p.dataBytes)} copy (the old data directory stays until the copy is complete)`)
        : { status: 'fail', detail: available === undefined ? `cannot read the free space next to ${standby.dataDirectory}` : `${size(available)} free next to ${standby.dataDirectory}, the copy needs ${size(needed)} (primary ${size(p.dataBytes)} + 10%) while the old data directory stays`, fix: `free disk space next to ${standby.dataDirectory} on the standby (copies kept by earlier runs, ${standby.dataDirectory}.pgrepl-old-*, can go once the standby works)` });
    const primaryId = facts.primaryHost.cluster;
    const standbyId = facts.standbyHost.cluster;
    add('not-the-primary', 'standby', false,
      sameCluster(primaryId, standbyId)
        ? { status: 'fail', detail: `the standby's cluster is the primary itself (${standby.dataDirectory} on ${facts.standbyHost.label}: same running kernel, same data directory)`, fix: 'choose a different standby host or cluster (--standby, --standby-cluster)' }
        : standby.servesAsPrimary
          ? { status: 'fail', detail: `${standby.servesAsPrimary}: it is somebody's primary`, fix: 'choose another cluster with --standby-cluster, or move its standbys away and stop it first' }
          : ok(primaryId.bootId === standbyId.bootId
            ? `same running kernel, different data directory (${standby.dataDirectory} is not the primary's ${p.dataDirectory})`
            : `different machine (kernel boot ids differ; standby ${facts.standbyHost.label}, primary ${facts.primaryHost.label})`));
  }
  add('data-directory', 'standby', false,
    standby.dataDirIsMountPoint
      ? { status: 'fail', detail: `${standby.dataDirectory} is a mount point: the clone goes next to it and is swapped in by renaming`, fix: `move the data directory one level down (e.g. ${standby.dataDirectory}/data) and point the cluster at it` }
      : ok(`${standby.dataDirectory} can be swapped by renaming`));

  const { connection } = facts;
  const endpoints = { ...settings, primaryPort };
  if (!connection.ran) {
    add('replication-connection', 'standby', true, { status: 'skipped', detail: connection.reason });
  } else if (!connection.ok) {
    const text = connection.output;
    add('replication-connection', 'standby', true, {
      status: 'fail',
      detail: `a replication connection from the standby to ${settings.primaryAddress}:${primaryPort} as ${settings.roleName} failed: ${text}`,
      fix: replicationFix(text, endpoints) ?? 'read the message above; it is PostgreSQL\'s own',
    });
  } else {
    const reached = connection.output.split('|')[0];
    const expected = 'unreachable' in facts.primary ? undefined : facts.primary.systemIdentifier;
    add('replication-connection', 'standby', true,
      expected && reached !== expected
        ? { status: 'fail', detail: `${settings.primaryAddress}:${primaryPort} is a different cluster (system identifier ${reached}, the primary's is ${expected})`, fix: "pass --primary-address with the primary's address as the standby reaches it" }
        : ok(`the standby reached the primary as ${settings.roleName} over a replication connection (IDENTIFY_SYSTEM: system ${reached})`));
  }
  return findings;
}

/**
 * A standby replays the primary's max_connections, max_worker_processes, … and stops (or,
 * PG 14+, pauses) where its own are lower; step 6 raises them in its postgresql.auto.conf
 * after the clone, and this says beforehand which, and what a later raise must respect.
 */
function judgeHotStandbySettings(major: number, primary: Record<string, string>, standby: Record<string, string> | undefined): Pick<Finding, 'status' | 'detail'> {
  const names = hotStandbyMinimums(major).join(', ');
  const later = 'raise them on the standby before the primary from now on';
  if (standby === undefined) return { status: 'ok', detail: `the standby's cluster is stopped: step 6 compares ${names} in its files with the primary's after the clone and raises what is lower; ${later}` };
  const raise = Object.entries(settingsToRaise(major, primary, standby));
  if (raise.length === 0) return { status: 'ok', detail: `${names} are at least the primary's on the standby; ${later}` };
  return {
    status: 'ok',
    detail: `lower on the standby than on the primary: ${raise.map(([name, value]) => `${name} = ${standby[name]} (primary ${value})`).join(', ')}: a standby stops or pauses replay below the primary's values, so step 6 raises them in its postgresql.auto.conf after the clone; ${later}`,
  };
}

/**
 * Tablespaces are cloned next to their standby paths and swapped in with the data directory;
 * refused are a --tablespace-map entry that names no tablespace, two tablespaces on one
 * path, and a path inside the data directory (the swap would move it).
 */
function judgeTablespaces(tablespaces: Tablespace[], standby: StandbyCloneFacts, settings: SetupSettings): Pick<Finding, 'status' | 'detail' | 'fix'> {
  const unmatched = unmatchedMappings(tablespaces, settings);
  const listed = tablespaces.map((t) => `${t.name} at ${t.location}`).join(', ') || 'none';
  if (unmatched.length > 0) {
    return { status: 'fail', detail: `--tablespace-map names ${unmatched.join(', ')}, which is no tablespace location of the primary (it has: ${listed})`, fix: "use the primary's locations (SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace) on the left of OLD=NEW" };
  }
  if (tablespaces.length === 0) return { status: 'ok', detail: 'no tablespaces besides pg_default and pg_global' };
  const targets = tablespaces.map((t) => t.target);
  const clash = tablespaces.find((t, i) => targets.indexOf(t.target) !== i || t.target === standby.dataDirectory || t.target.startsWith(`${standby.dataDirectory}/`));
  if (clash) {
    return { status: 'fail', detail: `tablespace ${clash.name} would go to ${clash.target}, which is another tablespace's path or inside the standby's data directory ${standby.dataDirectory}`, fix: 'give each tablespace its own path outside the data directory with --tablespace-map OLD=NEW' };
  }
  const stale = tablespaces.filter((t) => standby.spaces.find((s) => s.path === t.target)?.nonEmpty);
  return {
    status: 'ok',
    detail:
      `${tablespaces.length} tablespaces, each cloned into <path>.pgrepl-new and swapped in with the data directory: ` +
      tablespaces.map((t) => (t.target === t.location ? `${t.name} at ${t.target}` : `${t.name} ${t.location} -> ${t.target}`)).join(', ') +
      (stale.length ? `; not empty now, kept renamed as <path>.pgrepl-old-<time>: ${stale.map((t) => t.target).join(', ')}` : ''),
  };
}

const summary = (f: Finding) => `${f.name}: ${f.detail}`;

/**
 * Runs every precheck, tells the operator each outcome, and throws for the first failure.
 * Before the earlier steps ran (plan mode), failures they will fix are only reported. Apply
 * mode runs right after the replication password was stored in the standby's passfile.
 */
export async function runClonePrechecks(ctx: StepContext, mode: 'plan' | 'apply'): Promise<Finding[]> {
  return reportClonePrechecks(ctx, mode, await gatherCloneFacts(ctx, mode));
}

/** The judging half of runClonePrechecks, for facts gathered beforehand (gatherCloneFacts). */
export function reportClonePrechecks(ctx: StepContext, mode: 'plan' | 'apply', facts: CloneFacts): Finding[] {
  const findings = judgeCloneFacts(facts, ctx.settings);
  const blocking = findings.filter((f) => f.status === 'fail' && (mode === 'apply' || !f.earlierSteps));
  for (const f of findings) {
    if (f.status === 'fail') {
      const later = blocking.includes(f) ? '' : '; the earlier steps should fix it, it is checked again before the clone';
      ctx.note(`precheck failed on the ${f.side}: ${summary(f)} (fix: ${f.fix})${later}`);
    } else if (mode === 'plan') {
      ctx.note(f.status === 'skipped' ? `precheck ${f.name} runs at apply time: ${f.detail}` : `${f.status === 'warn' ? 'warning:' : 'precheck'} ${summary(f)}`);
    } else if (f.name === 'replication-connection') {
      // The one precheck a plan usually cannot run: show its outcome.
      ctx.note(`precheck ${summary(f)}`);
    }
  }
  const [first] = blocking;
  if (first) throw new WizardError(`precheck ${first.name} failed: ${first.detail}`, where(ctx[first.side]), first.fix!);
  if (mode === 'apply') {
    const warnings = findings.filter((f) => f.status === 'warn').length;
    ctx.note(`all ${findings.length} prechecks passed${warnings ? `, ${warnings} with a warning (see the plan)` : ''}`);
  }
  return findings;
}
