import { UsageError } from './errors.js';
import type { Io } from './io.js';
import { sudoPasswordEnvs, type NamedStandby, type Options } from './options.js';
import { connectHost } from './remote/connect.js';
import type { Host } from './remote/host.js';
import { chooseCluster, describeCluster, listClusters, readHostListing } from './facts/clusters.js';
import { inspectHost, type HostFacts } from './facts/host.js';
import { timed } from './timings.js';

export type Role = 'primary' | 'standby';
export const roles: readonly Role[] = ['primary', 'standby'];
/** A host a run connects to: one end of the pair, or the upstream of a cascaded standby (another standby it streams from). */
type HostRole = Role | 'upstream';

/** Both hosts, connected once for the whole run. */
export interface Pair {
  primary: Host;
  standby: Host;
  /** --upstream: the standby the standby streams from (a cascade); absent when it streams from the primary. */
  upstream?: Host;
  close(): Promise<void>;
}

// The upstream is a standby: its sudo password is the standby's.
const sudoRole = (role: HostRole): Role => (role === 'upstream' ? 'standby' : role);

function connectRole(options: Options, io: Io, role: HostRole): Promise<Host> {
  if (!options[role]) {
    throw new UsageError(`no ${role} host given`, `pass --${role} [user@]host[:port], or put "${role}:" in the --config file`);
  }
  return connectHost({
    role,
    target: options[role]!,
    identity: options.identity,
    knownHostsFile: options.knownHosts,
    sshConfigFile: options.sshConfig,
    agentSocket: options.sshAgentSocket,
    deadAfterMs: options.sshDeadAfterMs,
    confirmHostKey: io.interactive ? (key) => io.confirmHostKey(key) : undefined,
    sudoPassword: async (loginUser) =>
      options.sudoPasswords?.[sudoRole(role)] ??
      (io.interactive ? await io.askSecret(`sudo password for ${loginUser} on the ${role} ${options[role]} (sudo alone receives it; asked once):`, sudoPasswordEnvs[sudoRole(role)]) : undefined),
  });
}

export async function connectPair(options: Options, io: Io): Promise<Pair> {
  for (const role of roles) {
    if (!options[role]) {
      throw new UsageError(`no ${role} host given`, `pass --${role} [user@]host[:port], or put "${role}:" in the --config file`);
    }
  }
  const wanted: HostRole[] = options.upstream ? ['primary', 'standby', 'upstream'] : ['primary', 'standby'];
  const hosts = await connectAll(wanted.map((role) => timed(`connect the ${role}`, () => connectRole(options, io, role))));
  const [primary, standby, upstream] = hosts;
  return { primary, standby, ...(upstream ? { upstream } : {}), close: () => closeAll(hosts) };
}

async function closeAll(hosts: readonly Host[]): Promise<void> {
  await Promise.all(hosts.map((host) => host.close()));
}

/** Hosts connected side by side, in the order given; when one fails, the others are closed again and its error thrown. */
async function connectAll(connecting: Promise<Host>[]): Promise<Host[]> {
  const settled = await Promise.allSettled(connecting);
  const hosts = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await closeAll(hosts);
    throw failed.reason;
  }
  return hosts;
}

export interface PairFacts {
  primary: HostFacts;
  standby: HostFacts;
  upstream?: HostFacts;
}

const clusterOption = (options: Options, role: HostRole) => (role === 'upstream' ? options.upstreamCluster : options[`${role}Cluster`]);

/** Discovers one host: its clusters, the one chosen (asked when several), and its facts. */
async function discoverRole(host: Host, options: Options, io: Io, role: HostRole): Promise<HostFacts> {
  // Read once: the clusters come from it, the host's name and OS too.
  const listing = readHostListing(host);
  const clusters = await listClusters(host, clusterOption(options, role), role === 'upstream' ? undefined : options[`${role}Bindir`], listing);
  const where = `${role} ${host.label}`;
  const chosen =
    chooseCluster(clusters, clusterOption(options, role), role, where) ??
    (await io.choose(
      `Several PostgreSQL clusters on the ${role} ${host.label}; which one?`,
      clusters.map((c) => ({ label: describeCluster(c), value: c })),
      `--${role}-cluster`,
    ));
  // Files, pg_ctl and SQL of this cluster run as the OS user that owns its data directory.
  host.serverUser = chosen.owner;
  return inspectHost(host, clusters, chosen, listing);
}

/** Discovers both hosts in parallel; a host with several clusters asks which one (or names the flag). */
export async function discoverPair(pair: Pair, options: Options, io: Io): Promise<PairFacts> {
  const [primary, standby, upstream] = await Promise.all([
    timed('discover the primary', () => discoverRole(pair.primary, options, io, 'primary')),
    timed('discover the standby', () => discoverRole(pair.standby, options, io, 'standby')),
    pair.upstream ? timed('discover the upstream', () => discoverRole(pair.upstream!, options, io, 'upstream')) : undefined,
  ]);
  return { primary, standby, ...(upstream ? { upstream } : {}) };
}

/** The primary alone, connected and discovered: for work that needs no standby host (taking one off). `interruption` as openSession's. */
export async function openPrimary(options: Options, io: Io, interruption?: AbortSignal): Promise<{ host: Host; facts: HostFacts; close(): Promise<void> }> {
  const host = await connectRole(options, io, 'primary');
  if (interruption) host.endCommandsOn?.(interruption);
  try {
    return { host, facts: await discoverRole(host, options, io, 'primary'), close: () => host.close() };
  } catch (error) {
    await host.close();
    throw error;
  }
}

/**
 * A standby of the config file's list other than the run's own (the server a standby streamed
 * from before a run points it elsewhere), connected and discovered as an upstream; closed
 * again when its discovery fails.
 */
export async function openListedStandby(options: Options, io: Io, entry: NamedStandby): Promise<{ host: Host; facts: HostFacts }> {
  const host = await connectRole({ ...options, upstream: entry.host }, io, 'upstream');
  try {
    return { host, facts: await discoverRole(host, { ...options, upstreamCluster: entry.cluster }, io, 'upstream') };
  } catch (error) {
    await host.close();
    throw error;
  }
}

/** A named node of the topology, connected and discovered. */
export interface OpenNode {
  name: string;
  host: Host;
  facts: HostFacts;
  /** The name of the standby it streams from; absent: the primary. */
  upstream?: string;
}

/**
 * The primary and every standby the run names (the config file's whole standbys list, or the
 * one --standby), connected and discovered in parallel; all closed again when one fails.
 */
export async function openTopology(options: Options, io: Io, standbys: NamedStandby[]): Promise<{ primary: OpenNode; standbys: OpenNode[]; close(): Promise<void> }> {
  const connectAs = (entry?: NamedStandby) =>
    entry ? connectRole({ ...options, standby: entry.host }, io, 'standby') : connectRole(options, io, 'primary');
  const entries = [undefined, ...standbys];
  const hosts = await connectAll(entries.map(connectAs));
  const close = () => closeAll(hosts);
  try {
    const facts = await Promise.all(
      entries.map((entry, i) =>
        entry ? discoverRole(hosts[i], { ...options, standbyCluster: entry.cluster, standbyBindir: entry.bindir }, io, 'standby') : discoverRole(hosts[i], options, io, 'primary'),
      ),
    );
    const nodes = entries.map((entry, i): OpenNode => ({ name: entry?.name ?? facts[i].identity.hostname, host: hosts[i], facts: facts[i], ...(entry?.upstream ? { upstream: entry.upstream } : {}) }));
    return { primary: nodes[0], standbys: nodes.slice(1), close };
  } catch (error) {
    await close();
    throw error;
  }
}
