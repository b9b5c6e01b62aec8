import { randomBytes } from 'node:crypto';
import { WizardError } from '../errors.js';
import type { ClusterAddress, Host } from '../remote/host.js';
import * as privileged from '../remote/commands.js';

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
  /**
   * Where the client tools used with it are (pg_basebackup, psql): the newest ones on the
   * host of this major or later; set once the cluster is chosen (see findClientTools).
   */
  clientBinDir?: string;
  /** How to start/stop it: Debian's wrapper, the systemd unit that started it (PGDG's postgresql-N), or pg_ctl. */
  manager: 'pg_ctlcluster' | 'pg_ctl' | 'systemctl';
  /** The systemd unit, when manager is systemctl. */
  unit?: string;
  /** Where it listened when it was found running (its postmaster.pid, read with the postmaster's other facts). */
  address?: ClusterAddress;
  /** systemd runs the host: Debian's pg_ctlcluster then hands the cluster to it, which needs root. */
  systemd?: boolean;
}

/**
 * Every cluster on the host: Debian's pg_lsclusters (when installed), every running
 * postmaster it does not list (hand-installed, PGDG), and a stopped one the operator named by
 * its data directory (`wanted`). `binDir` is the operator's --*-bindir for a stopped cluster.
 */
export async function listClusters(host: Host, wanted?: string, binDir?: string, listing: Promise<HostListing> = readHostListing(host)): Promise<ClusterRef[]> {
  const { lsclusters, systemd } = await listing;
  const postmasters = await runningPostmasters(host, listing);
  const clusters = lsclusters.code === 0 ? parseLsClusters(lsclusters.stdout) : [];
  if (clusters.length > 0 && systemd.code === 0) {
    for (const cluster of clusters) cluster.systemd = true;
  }
  for (const found of postmasters) {
    const listed = clusters.find((c) => c.dataDirectory === found.dataDirectory);
    if (!listed) clusters.push(found);
    else if (listed.running) listed.address = found.address;
  }
  const named = wanted?.startsWith('/') ? wanted.replace(/(.)\/+$/, '$1') : undefined;
  if (named && !clusters.some((c) => c.dataDirectory === named)) {
    const stopped = await stoppedCluster(host, named, binDir);
    if (stopped) clusters.push(stopped);
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

/** One command's share of the listing: its exit code and what it printed. */
export interface ListingPart {
  code: number;
  stdout: string;
}

/**
 * What discovery reads of a host as the login user, asked in one round trip: pg_lsclusters,
 * whether systemd runs the host, the process list, the machine's name (uname -n) and
 * /etc/os-release (exit code 3: there is none). A part that failed is asked again by itself
 * where it is needed, so that its error is that command's own.
 */
export interface HostListing {
  lsclusters: ListingPart;
  systemd: ListingPart;
  ps: ListingPart;
  hostname: ListingPart;
  osRelease: ListingPart;
}

const listingParts = ['lsclusters', 'systemd', 'ps', 'hostname', 'osRelease'] as const;
// Each part ends with a line "$1 <exit code>" after a newline of its own ($1: a marker no output holds).
const listingScript = [
  'pg_lsclusters --no-header 2>/dev/null; printf \'\\n%s %s\\n\' "$1" "$?"',
  'test -d /run/systemd/system; printf \'\\n%s %s\\n\' "$1" "$?"',
  'ps -eo pid=,ppid=,user:64=,comm= 2>/dev/null; printf \'\\n%s %s\\n\' "$1" "$?"',
  'uname -n 2>/dev/null; printf \'\\n%s %s\\n\' "$1" "$?"',
  'if [ -e /etc/os-release ]; then cat -- /etc/os-release 2>/dev/null; else (exit 3); fi; printf \'\\n%s %s\\n\' "$1" "$?"',
].join('\n');

export async function readHostListing(host: Host): Promise<HostListing> {
  const marker = `pgrepl-part-${randomBytes(8).toString('hex')}`;
  const result = await host.exec(['sh', '-c', listingScript, 'sh', marker]);
  return parseHostListing(result.stdout, marker);
}

/** The parts of the listing's output; a part missing (the shell failed early) counts as failed. */
export function parseHostListing(output: string, marker: string): HostListing {
  const pieces = output.split(new RegExp(`\\n${marker} (\\d+)\\n`));
  const part = (i: number): ListingPart => (2 * i + 1 < pieces.length ? { stdout: pieces[2 * i], code: Number(pieces[2 * i + 1]) } : { stdout: '', code: 255 });
  return Object.fromEntries(listingParts.map((name, i) => [name, part(i)])) as unknown as HostListing;
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

/**
 * Postmasters are the postgres processes whose parent is not a postgres process: their
 * working directory is the data directory, /proc/PID/exe the server binary, postmaster.pid
 * the port. A postmaster.pid naming another pid belongs to a server this host cannot see
 * (another container or mount namespace sharing the process table), so it is skipped.
 */
async function runningPostmasters(host: Host, listing: Promise<HostListing>): Promise<ClusterRef[]> {
  const listed = (await listing).ps;
  const ps = listed.code === 0 ? listed.stdout : await host.run(['ps', '-eo', 'pid=,ppid=,user:64=,comm=']);
  const rows = ps
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4);
  const postgresPids = new Set(rows.filter((r) => r[3] === 'postgres' || r[3] === 'postmaster').map((r) => r[0]));
  const postmasters = rows.filter((r) => postgresPids.has(r[0]) && !postgresPids.has(r[1]));
  const clusters: ClusterRef[] = [];
  // Read as the postmaster's own user: its /proc entries and data directory are that user's.
  const answers = await Promise.all(postmasters.map(([pid, , user]) => host.exec(privileged.postmasterFacts(pid), { as: 'postgres', user })));
  for (const [i, found] of answers.entries()) {
    const [pid] = postmasters[i];
    const [dataDirectory, binary, owner, cgroup, version, ...pidFile] = found.stdout.split('\n');
    if (found.code !== 0 || pidFile[0]?.trim() !== pid || clusters.some((c) => c.dataDirectory === dataDirectory)) continue;
    const unit = systemdUnit(cgroup);
    const port = Number(pidFile[3]) || 5432;
    clusters.push({
      id: dataDirectory,
      major: Number(version.trim()),
      port,
      running: true,
      dataDirectory,
      owner,
      binDir: binary.replace(/\/[^/]+$/, ''),
      address: addressFromPidFile(pidFile.join('\n'), { port }),
      ...(unit ? { manager: 'systemctl' as const, unit } : { manager: 'pg_ctl' as const }),
    });
  }
  return clusters;
}

/**
 * The unit systemd started a postmaster from ("system.slice/postgresql-16.service" in its
 * cgroup): such a server is stopped and started with systemctl, or systemd would restart it
 * or report it failed. Undefined for one started by hand (pg_ctl).
 */
export const systemdUnit = (cgroup: string | undefined) => /^system\.slice\/(.+\.service)$/.exec(cgroup?.trim() ?? '')?.[1];

/**
 * A cluster that is not running, named by its data directory: PG_VERSION gives the major,
 * the directory's owner the OS user, and its binaries are looked for where they can be
 * (see findBinDir). Undefined when the directory holds no cluster.
 */
async function stoppedCluster(host: Host, dataDirectory: string, binDirFlag: string | undefined): Promise<ClusterRef | undefined> {
  // Root only to learn the owner when the login user cannot see it (another user's private home); the rest runs as that owner.
  const asLogin = await host.exec(privileged.statPath.argv('%U', dataDirectory));
  const stat = asLogin.code === 0 ? asLogin : await host.exec(privileged.statPath('%U', dataDirectory), { as: 'root' });
  const owner = stat.stdout.trim();
  if (stat.code !== 0) return undefined;
  const version = (await host.exec(privileged.readFile(`${dataDirectory}/PG_VERSION`), { as: 'postgres', user: owner })).stdout.trim();
  if (!/^\d+$/.test(version)) return undefined;
  const major = Number(version);
  const where = `${host.role} ${host.label}`;
  const binDir = await findBinDir(host, dataDirectory, owner, major, binDirFlag);
  if (!binDir) {
    throw new WizardError(
      `found no PostgreSQL ${major} server binaries for ${dataDirectory} (looked at postmaster.opts, ${owner}'s PATH, /usr/lib/postgresql/${major}/bin, /usr/pgsql-${major}/bin)`,
      where,
      `pass --${host.role}-bindir with the directory that holds its postgres and pg_ctl`,
    );
  }
  const port = Number((await configuredSettingsWith(host, `${binDir}/postgres`, dataDirectory, `${dataDirectory}/postgresql.conf`, ['port'], owner)).port) || 5432;
  return { id: dataDirectory, major, port, running: false, dataDirectory, owner, binDir, manager: 'pg_ctl' };
}

/**
 * Where the server binaries of a stopped cluster are: the operator's --*-bindir, the path
 * its last start recorded in postmaster.opts, its owner's login PATH, then the Debian and
 * PGDG package paths; the first whose `postgres --version` is the cluster's major wins.
 */
export async function findBinDir(host: Host, dataDirectory: string, owner: string, major: number, binDirFlag?: string): Promise<string | undefined> {
  const candidates: string[] = [];
  if (binDirFlag) candidates.push(binDirFlag.replace(/\/+$/, ''));
  const asOwner = { as: 'postgres', user: owner } as const;
  const opts = (await host.exec(privileged.readFile(`${dataDirectory}/postmaster.opts`), asOwner)).stdout;
  const recorded = opts ? /^"?([^"\s]+)\/postgres"?/.exec(opts.trim())?.[1] : undefined;
  if (recorded) candidates.push(recorded);
  const shell = (await host.exec(['getent', 'passwd', owner])).stdout.trim().split(':')[6];
  if (shell && !/nologin|false$/.test(shell)) {
    const onPath = await host.exec(privileged.loginShellPostgres(shell), asOwner);
    const path = onPath.stdout.trim().split('\n').pop();
    if (onPath.code === 0 && path?.startsWith('/')) candidates.push(path.replace(/\/[^/]+$/, ''));
  }
  candidates.push(`/usr/lib/postgresql/${major}/bin`, `/usr/pgsql-${major}/bin`);
  const result = await host.exec(privileged.binDirSearch(major, candidates), asOwner);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** Where a cluster's client tools are, and the version of its pg_basebackup as `pg_basebackup --version` gives it. */
export interface ClientTools {
  dir: string;
  basebackupVersion: string;
}

/**
 * The newest pg_basebackup + psql on the host whose major is at least the server's (both
 * work with servers of their own or an older major): Debian's /usr/lib/postgresql/N/bin,
 * PGDG's /usr/pgsql-N/bin, the cluster's own bindir and PATH. Undefined when none is.
 */
export async function findClientTools(host: Host, cluster: ClusterRef): Promise<ClientTools | undefined> {
  const script = [
    'for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin "$1" "$(dirname "$(readlink -f "$(command -v pg_basebackup)" 2>/dev/null)")"; do',
    '  [ -x "$d/pg_basebackup" ] && [ -x "$d/psql" ] || continue',
    '  v=$("$d/pg_basebackup" --version 2>/dev/null) && printf "%s\\t%s\\n" "$d" "$v"',
    'done; exit 0',
  ].join('\n');
  const result = await host.exec(['sh', '-c', script, 'sh', cluster.binDir]);
  return newestClientTools(result.stdout, cluster.major);
}

/** From "dir<TAB>pg_basebackup (PostgreSQL) 17.2" lines: the newest directory of `major` or later. */
export function newestClientTools(listing: string, major: number): ClientTools | undefined {
  let best: (ClientTools & { major: number }) | undefined;
  for (const line of listing.split('\n')) {
    const [dir, version] = line.split('\t');
    const found = Number(/\)\s*(\d+)/.exec(version ?? '')?.[1]);
    if (dir && found >= major && (!best || found > best.major)) best = { dir, major: found, basebackupVersion: version.trim().replace(/^pg_basebackup \(PostgreSQL\) /, '') };
  }
  return best && { dir: best.dir, basebackupVersion: best.basebackupVersion };
}

/** A client program (pg_basebackup, psql) to use with this cluster. */
export const clientTool = (cluster: ClusterRef, name: 'pg_basebackup' | 'psql') => `${cluster.clientBinDir ?? cluster.binDir}/${name}`;

/** The package that brings client tools of `major` on the usual distributions. */
export const clientPackageHint = (major: number) => `install postgresql-client-${major} (Debian/Ubuntu, apt.postgresql.org) or postgresql${major} (PGDG on RHEL)`;

/** pg_controldata's words for pg_control's DBState, the same numbers in 10–18. */
const controlStates = ['starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery', 'in production'];

export interface ControlFile {
  systemIdentifier: string;
  /** As pg_controldata words it, e.g. "in archive recovery". */
  state: string;
  /** The timeline of the latest checkpoint. */
  timeline: number;
}

/**
 * What pg_controldata would say, read from global/pg_control itself so that no
 * pg_controldata of the cluster's major is needed (hand-installed servers often lack it):
 * system_identifier is the first 8 bytes, state the uint32 at 16, and the latest checkpoint's
 * TimeLineID follows its redo pointer (at 48; at 56 in PG 10, which still kept
 * prevCheckPoint). Host byte order, as the server wrote it. Undefined without a control file.
 */
export async function readControlFile(host: Host, cluster: Pick<ClusterRef, 'dataDirectory' | 'major'>): Promise<ControlFile | undefined> {
  const result = await host.exec(privileged.controlFile(cluster.dataDirectory, cluster.major <= 10 ? '56' : '48'), { as: 'postgres' });
  return parseControlFile(result.code === 0 ? result.stdout : '');
}

export function parseControlFile(odOutput: string): ControlFile | undefined {
  const [systemIdentifier, state, timeline] = odOutput.split('\n').map((line) => line.trim()).filter(Boolean);
  if (!/^\d+$/.test(systemIdentifier ?? '') || systemIdentifier === '0') return undefined;
  return { systemIdentifier, state: controlStates[Number(state)] ?? `unknown state ${state}`, timeline: Number(timeline) };
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
  const result = await host.exec(privileged.liveAddress(`${cluster.binDir}/pg_ctl`, cluster.dataDirectory), { as: 'postgres' });
  if (result.code !== 0) return undefined;
  return addressFromPidFile(result.stdout, cluster);
}

function addressFromPidFile(pidFile: string, cluster: Pick<ClusterRef, 'port'>): ClusterAddress | undefined {
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
  return configuredSettingsWith(host, `${cluster.binDir}/postgres`, cluster.dataDirectory, configFile, names);
}

/** `postgres -C` as the server's OS user, or as `owner` for a cluster not chosen yet (postgres refuses root). */
async function configuredSettingsWith(host: Host, postgres: string, dataDirectory: string, configFile: string, names: readonly string[], owner?: string): Promise<Record<string, string>> {
  const output = await host.run(privileged.configuredSettings(postgres, dataDirectory, configFile, names), { as: 'postgres', user: owner });
  const settings: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) settings[line.slice(0, tab)] = line.slice(tab + 1);
  }
  return settings;
}
