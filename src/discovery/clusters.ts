import { WizardError } from '../errors.js';
import type { ClusterAddress, Host } from '../remote/host.js';

/**
 * A PostgreSQL cluster found on a host. Debian/Ubuntu clusters come from pg_lsclusters;
 * elsewhere from the running postmasters (their working directory is the data directory).
 * Nothing is assumed from Debian defaults: name, port and paths are all read.
 */
export interface ClusterRef {
  /** "15/main" on Debian, the data directory elsewhere. */
  id: string;
  major: number;
  port: number;
  running: boolean;
  dataDirectory: string;
  owner: string;
  binDir: string;
  /** Debian's per-cluster config directory (/etc/postgresql/15/main); absent elsewhere. */
  configDir?: string;
  logFile?: string;
  /** How to start/stop it: Debian's wrapper, or pg_ctl on the data directory. */
  manager: 'pg_ctlcluster' | 'pg_ctl';
}

export async function listClusters(host: Host): Promise<ClusterRef[]> {
  const lsclusters = await host.exec(['pg_lsclusters', '--no-header']);
  if (lsclusters.code === 0) return parseLsClusters(lsclusters.stdout);
  return runningPostmasters(host);
}

export function parseLsClusters(output: string): ClusterRef[] {
  return output
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [version, name, port, status, owner, dataDirectory, logFile] = line.trim().split(/\s+/);
      return {
        id: `${version}/${name}`,
        major: Number(version),
        port: Number(port),
        // "online,recovery" for a running standby
        running: status.startsWith('online'),
        dataDirectory,
        owner,
        binDir: `/usr/lib/postgresql/${version}/bin`,
        configDir: `/etc/postgresql/${version}/${name}`,
        logFile: logFile && logFile !== '<unknown>' ? logFile : undefined,
        manager: 'pg_ctlcluster' as const,
      };
    });
}

/** Postmasters are the postgres processes whose parent is not a postgres process. */
async function runningPostmasters(host: Host): Promise<ClusterRef[]> {
  const ps = await host.run(['ps', '-eo', 'pid=,ppid=,user=,comm=']);
  const rows = ps
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4);
  const postgresPids = new Set(rows.filter((r) => r[3] === 'postgres' || r[3] === 'postmaster').map((r) => r[0]));
  const postmasters = rows.filter((r) => postgresPids.has(r[0]) && !postgresPids.has(r[1]));
  const clusters: ClusterRef[] = [];
  for (const [pid, , owner] of postmasters) {
    const dataDirectory = (await host.run(['readlink', `/proc/${pid}/cwd`], { as: 'root' })).trim();
    const binary = (await host.run(['readlink', `/proc/${pid}/exe`], { as: 'root' })).trim();
    const pidFile = await host.readFile(`${dataDirectory}/postmaster.pid`, 'root');
    const port = Number(pidFile?.split('\n')[3] ?? 5432);
    const versionFile = await host.readFile(`${dataDirectory}/PG_VERSION`, 'root');
    clusters.push({
      id: dataDirectory,
      major: Number(versionFile?.trim()),
      port,
      running: true,
      dataDirectory,
      owner,
      binDir: binary.replace(/\/[^/]+$/, ''),
      manager: 'pg_ctl',
    });
  }
  if (clusters.length === 0) {
    const hasServer = await host.exec(['sh', '-c', 'command -v postgres || command -v pg_ctl || ls /usr/lib/postgresql/*/bin/postgres /usr/pgsql-*/bin/postgres']);
    throw new WizardError(
      hasServer.code === 0
        ? 'PostgreSQL is installed but no cluster was found (no pg_lsclusters, and no postmaster is running)'
        : 'PostgreSQL is not installed (no pg_lsclusters, postgres or pg_ctl found)',
      `${host.role} ${host.label}`,
      hasServer.code === 0
        ? `start the cluster, or name its data directory with --${host.role}-cluster /path/to/data`
        : 'install the PostgreSQL server packages on this host first',
    );
  }
  return clusters;
}

/** Picks the cluster the operator meant: by id ("15/main"), by name ("main"), by data directory or by port. */
export function chooseCluster(clusters: ClusterRef[], wanted: string | undefined, role: string, where: string): ClusterRef | undefined {
  if (clusters.length === 0) {
    throw new WizardError('no PostgreSQL cluster was found', where, 'create one (pg_createcluster or initdb), then run again');
  }
  if (wanted === undefined) return clusters.length === 1 ? clusters[0] : undefined;
  const matches = clusters.filter(
    (c) => c.id === wanted || c.id.split('/')[1] === wanted || c.dataDirectory === wanted.replace(/\/+$/, '') || String(c.port) === wanted,
  );
  if (matches.length === 1) return matches[0];
  throw new WizardError(
    `--${role}-cluster "${wanted}" ${matches.length === 0 ? 'matches no cluster' : 'matches several clusters'}; found: ${clusters.map(describeCluster).join('; ')}`,
    where,
    `pass --${role}-cluster with one of: ${clusters.map((c) => c.id).join(', ')}`,
  );
}

export const describeCluster = (c: ClusterRef) => `${c.id} port ${c.port} ${c.running ? 'running' : 'stopped'} (${c.dataDirectory})`;

/**
 * Where a cluster listens now, or undefined when it is not running: pg_ctl status (the pid in
 * postmaster.pid is alive) and postmaster.pid's socket line, in one round trip.
 */
export async function liveClusterAddress(host: Host, cluster: ClusterRef): Promise<ClusterAddress | undefined> {
  const script = '"$1" status -D "$2" >/dev/null 2>&1 || exit 3; exec cat -- "$2/postmaster.pid"';
  const result = await host.exec(['sh', '-c', script, 'sh', `${cluster.binDir}/pg_ctl`, cluster.dataDirectory], { as: 'postgres' });
  if (result.code !== 0) return undefined;
  return addressFromPidFile(result.stdout, cluster);
}

function addressFromPidFile(pidFile: string, cluster: ClusterRef): ClusterAddress | undefined {
  const lines = pidFile.split('\n');
  const socketDir = lines[4]?.trim();
  return socketDir ? { port: Number(lines[3]) || cluster.port, socketDir } : undefined;
}

/** Where to reach a running cluster: the socket directory it wrote into postmaster.pid. */
export async function clusterAddress(host: Host, cluster: ClusterRef): Promise<ClusterAddress> {
  const pidFile = await host.readFile(`${cluster.dataDirectory}/postmaster.pid`, 'postgres');
  const address = pidFile ? addressFromPidFile(pidFile, cluster) : undefined;
  if (!address) {
    throw new WizardError(
      `cluster ${cluster.id} is not running (no postmaster.pid in ${cluster.dataDirectory})`,
      `${host.role} ${host.label}`,
      'start it, or run again once it is up',
    );
  }
  return address;
}

/**
 * Settings as the server takes them from its files (`postgres -C`, which works whether the
 * cluster runs or not): what the next start will use. One remote shell runs them in
 * parallel; names and paths arrive as "$@", never inside the script.
 */
export async function configuredSettings(host: Host, cluster: ClusterRef, names: readonly string[]): Promise<Record<string, string>> {
  const configFile = cluster.configDir ? `${cluster.configDir}/postgresql.conf` : `${cluster.dataDirectory}/postgresql.conf`;
  const script =
    'postgres="$1"; data="$2"; conf="$3"; shift 3; for name; do ' +
    '(v=$("$postgres" -D "$data" -c "config_file=$conf" -C "$name" 2>/dev/null) && printf "%s\\t%s\\n" "$name" "$v") & done; wait';
  const output = await host.run(['sh', '-c', script, 'sh', `${cluster.binDir}/postgres`, cluster.dataDirectory, configFile, ...names], { as: 'postgres' });
  const settings: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) settings[line.slice(0, tab)] = line.slice(tab + 1);
  }
  return settings;
}
