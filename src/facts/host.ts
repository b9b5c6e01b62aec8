import type { ClusterAddress, Host } from '../remote/host.js';
import * as privileged from '../remote/commands.js';
import { WizardError } from '../errors.js';
import { clientTool, clusterAddress, configuredSettings, findClientTools, readControlFile, type ClusterRef, type HostListing } from './clusters.js';
import { readClusterIdentity, type ClusterIdentity } from './identity.js';

/** The settings replication depends on; each is reported with the file that set it. */
export const replicationSettings = [
  'wal_level',
  'max_wal_senders',
  'max_replication_slots',
  'listen_addresses',
  'port',
  'hot_standby',
  'wal_keep_size',
  'wal_keep_segments',
  'max_slot_wal_keep_size',
  'archive_mode',
  'archive_command',
  'password_encryption',
  'ssl',
  'primary_conninfo',
  'primary_slot_name',
  'max_connections',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'wal_log_hints',
  'data_checksums',
  'logging_collector',
  'log_directory',
  'cluster_name',
] as const;

export interface SettingFact {
  value: string;
  /** file:line that set it, "default", or "files (server stopped)". */
  source: string;
  pendingRestart?: boolean;
}

export interface ClusterFacts {
  ref: ClusterRef;
  address?: ClusterAddress;
  serverVersion?: string;
  dataDirectory: string;
  configFile: string;
  hbaFile: string;
  systemIdentifier?: string;
  inRecovery?: boolean;
  dataSizeBytes?: number;
  freeBytes?: number;
  settings: Record<string, SettingFact>;
  /** Kernel and data directory: proves whether the other host's cluster is this very one. */
  identity: ClusterIdentity;
  /** Running only: every walsender (pg_stat_replication), i.e. each standby streaming from it, with the slot it holds. */
  standbys?: StreamingStandby[];
  /** Running only: its physical replication slots and whether a walsender holds each. */
  slots?: { name: string; active: boolean }[];
}

/** One row of pg_stat_replication: a standby (or a pg_basebackup) streaming from this cluster. */
export interface StreamingStandby {
  /** application_name: a standby's name when primary_conninfo sets it. */
  name: string;
  clientAddr: string | null;
  state: string;
  syncState: string;
  slot: string | null;
}

export interface HostFacts {
  role: string;
  label: string;
  address: string;
  loginUser: string;
  os: string;
  /** The machine's own host name (uname -n): what the operator types to confirm replacing its data. */
  identity: { hostname: string };
  clusters: ClusterRef[];
  cluster?: ClusterFacts;
  pgBasebackup?: { path: string; version: string };
}

/** `listing`: the host's listing that found `clusters` (its name and os-release are in it). */
export async function inspectHost(host: Host, clusters: ClusterRef[], chosen: ClusterRef | undefined, listing: Promise<HostListing>): Promise<HostFacts> {
  const { hostname: name, osRelease: release } = await listing;
  // Independent reads, asked together: one round trip's wait instead of one each.
  const [osRelease, hostname, chosenFacts] = await Promise.all([
    release.code === 0 ? release.stdout : release.code === 3 ? null : host.readFile('/etc/os-release'),
    name.code === 0 ? name.stdout : host.run(['uname', '-n']),
    chosen && chosenClusterFacts(host, chosen),
  ]);
  const os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease ?? '')?.[1] ?? (await host.run(['uname', '-sr'])).trim();
  return { role: host.role, label: host.label, address: host.address, loginUser: host.loginUser, os, identity: { hostname: hostname.trim() }, clusters, ...chosenFacts };
}

async function chosenClusterFacts(host: Host, chosen: ClusterRef): Promise<Pick<HostFacts, 'cluster' | 'pgBasebackup'>> {
  // The identity stats the same directory whichever path names it (the server's data_directory or the one found).
  const [cluster, identity, free, tools] = await Promise.all([
    chosen.running ? runningClusterFacts(host, chosen) : stoppedClusterFacts(host, chosen),
    readClusterIdentity(host, chosen.dataDirectory, chosen.running),
    freeBytes(host, chosen.dataDirectory),
    findClientTools(host, chosen),
  ]);
  // The tools the steps use with this cluster (pg_basebackup, psql).
  chosen.clientBinDir = tools?.dir;
  const pgBasebackup = tools && { path: clientTool(chosen, 'pg_basebackup'), version: tools.basebackupVersion };
  return { cluster: { ...cluster, freeBytes: free, identity }, pgBasebackup };
}

async function runningClusterFacts(host: Host, ref: ClusterRef): Promise<Omit<ClusterFacts, 'identity'>> {
  const address = ref.address ?? (await clusterAddress(host, ref));
  const [info] = await host.sql<{
    server_version: string;
    data_directory: string;
    config_file: string;
    hba_file: string;
    system_identifier: string;
    in_recovery: boolean;
    data_size: string;
    standbys: StreamingStandby[];
    slots: { name: string; active: boolean }[];
  }>(
    address,
    `SELECT current_setting('server_version') AS server_version,
            current_setting('data_directory') AS data_directory,
            current_setting('config_file') AS config_file,
            current_setting('hba_file') AS hba_file,
            (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
            pg_is_in_recovery() AS in_recovery,
            (SELECT sum(pg_database_size(oid))::text FROM pg_database) AS data_size,
            (SELECT coalesce(json_agg(json_build_object('name', r.application_name, 'clientAddr', host(r.client_addr), 'state', r.state,
                                                        'syncState', r.sync_state, 'slot', s.slot_name) ORDER BY r.application_name), '[]')
               FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid) AS standbys,
            (SELECT coalesce(json_agg(json_build_object('name', slot_name, 'active', active) ORDER BY slot_name), '[]')
               FROM pg_replication_slots WHERE slot_type = 'physical') AS slots`,
  );
  const rows = await host.sql<{ name: string; setting: string; source: string; sourcefile: string | null; sourceline: number | null; pending_restart: boolean; unit: string | null }>(
    address,
    `SELECT name, setting, unit, source, sourcefile, sourceline, pending_restart
       FROM pg_settings WHERE name = ANY($1)`,
    [replicationSettings],
  );
  const settings: Record<string, SettingFact> = {};
  for (const row of rows) {
    settings[row.name] = {
      value: withUnit(row.setting, row.unit),
      source: row.sourcefile ? `${row.sourcefile}:${row.sourceline}` : row.source,
      pendingRestart: row.pending_restart,
    };
  }
  return {
    ref,
    address,
    serverVersion: info.server_version,
    dataDirectory: info.data_directory,
    configFile: info.config_file,
    hbaFile: info.hba_file,
    systemIdentifier: info.system_identifier,
    inRecovery: info.in_recovery,
    dataSizeBytes: Number(info.data_size),
    settings,
    standbys: info.standbys,
    slots: info.slots,
  };
}

/** pg_settings reports sizes in units of 8kB, 1MB, …; show them as an operator writes them. */
function withUnit(setting: string, unit: string | null): string {
  if (!unit || !/^\d+$/.test(setting)) return setting;
  const match = /^(\d+)?(kB|MB|GB|B|ms|s|min)$/.exec(unit);
  if (!match) return setting;
  const factor = Number(match[1] ?? 1);
  return `${Number(setting) * factor}${match[2]}`;
}

/** A stopped cluster still answers from its files: global/pg_control and `postgres -C`. */
async function stoppedClusterFacts(host: Host, ref: ClusterRef): Promise<Omit<ClusterFacts, 'identity'>> {
  const configFile = ref.configDir ? `${ref.configDir}/postgresql.conf` : `${ref.dataDirectory}/postgresql.conf`;
  const control = await readControlFile(host, ref);
  const configured = await configuredSettings(host, ref, replicationSettings);
  const settings: Record<string, SettingFact> = Object.fromEntries(
    Object.entries(configured).map(([name, value]) => [name, { value, source: 'files (server stopped)' }]),
  );
  const hbaFile = ref.configDir ? `${ref.configDir}/pg_hba.conf` : `${ref.dataDirectory}/pg_hba.conf`;
  const size = await host.run(privileged.diskUsage(ref.dataDirectory), { as: 'postgres' });
  return {
    ref,
    dataDirectory: ref.dataDirectory,
    configFile,
    hbaFile,
    systemIdentifier: control?.systemIdentifier,
    inRecovery: control?.state === 'in archive recovery',
    dataSizeBytes: Number(size.split(/\s/)[0]),
    settings,
  };
}

/** The size and free space of a filesystem, in bytes. */
export interface FilesystemSpace {
  sizeBytes: number;
  freeBytes: number;
}

/** The filesystem that holds `path`, as df reports it (as the server's OS user); undefined when df cannot tell. */
export async function filesystemSpace(host: Host, path: string): Promise<FilesystemSpace | undefined> {
  const df = await host.exec(privileged.freeSpace(path), { as: 'postgres' });
  const fields = df.code === 0 ? df.stdout.trim().split('\n').at(-1)?.split(/\s+/) : undefined;
  if (!fields || fields.length < 4) return undefined;
  return { sizeBytes: Number(fields[1]), freeBytes: Number(fields[3]) };
}

const freeBytes = async (host: Host, path: string) => (await filesystemSpace(host, path))?.freeBytes;

/** The local address a host uses to reach `destination`, as `ip route get` reports it. */
export async function sourceAddressTowards(host: Host, destination: string, flag: string): Promise<string> {
  const result = await host.exec(['ip', 'route', 'get', destination]);
  const source = /\bsrc\s+(\S+)/.exec(result.stdout)?.[1];
  if (result.code !== 0 || !source) {
    throw new WizardError(
      `cannot tell which address ${host.role} uses to reach ${destination}${result.stderr ? `: ${result.stderr.trim()}` : ''}`,
      `${host.role} ${host.label}`,
      `pass ${flag} with that address`,
    );
  }
  return source;
}

/** Each host's server users' homes, asked once a run (the passfile and the run lock both live there). */
const homes = new WeakMap<Host, Map<string, Promise<string>>>();

/** The home directory of the server's OS user (where its ~/.pgpass lives). */
export function serverHome(host: Host): Promise<string> {
  const user = host.serverUser;
  const known = homes.get(host) ?? new Map<string, Promise<string>>();
  homes.set(host, known);
  let home = known.get(user);
  if (!home) {
    home = readServerHome(host);
    known.set(user, home);
    // A failed read is asked again next time.
    home.catch(() => known.delete(user));
  }
  return home;
}

async function readServerHome(host: Host): Promise<string> {
  const entry = (await host.run(['getent', 'passwd', host.serverUser])).trim();
  const home = entry.split(':')[5];
  if (!home) {
    throw new WizardError(
      `the OS user ${host.serverUser}, which runs PostgreSQL, has no home directory`,
      `${host.role} ${host.label}`,
      `give ${host.serverUser} a home directory (usermod -d DIR ${host.serverUser}): the replication password is kept in its ~/.pgpass`,
    );
  }
  return home;
}

/** The host's own addresses with their prefix length ("10.77.0.11/24"), as `ip addr` lists them. */
export async function hostNetworks(host: Host): Promise<string[]> {
  const output = await host.run(['ip', '-o', 'addr', 'show']);
  return [...output.matchAll(/\binet6?\s+(\S+)/g)].map((match) => match[1]);
}

/** The host's own addresses, without their prefix length. */
export const hostAddresses = async (host: Host) => (await hostNetworks(host)).map((network) => network.replace(/\/\d+$/, ''));

/** The host's own clock, for what was read there and carries no time of its own. */
export async function hostClock(host: Host): Promise<string> {
  return (await host.run(['date', '-u', '+%Y-%m-%d %H:%M:%S UTC'])).trim();
}

/** The addresses a name resolves to on the host (getent ahosts: /etc/hosts, DNS), none when it does not. */
export async function resolveName(host: Host, name: string): Promise<string[]> {
  const result = await host.exec(['getent', 'ahosts', name]);
  return [...new Set(result.stdout.split('\n').map((line) => line.split(/\s+/)[0]).filter(Boolean))];
}
