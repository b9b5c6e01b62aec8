import { UsageError } from './errors.js';
import type { Io } from './io.js';
import { sudoPasswordEnvs, type Options } from './options.js';
import { connectHost } from './remote/connect.js';
import type { Host } from './remote/host.js';
import { chooseCluster, describeCluster, findClientBinDir, listClusters } from './facts/clusters.js';
import { inspectHost, type HostFacts } from './facts/host.js';

export type Role = 'primary' | 'standby';
export const roles: readonly Role[] = ['primary', 'standby'];

/** Both hosts, connected once for the whole run. */
export interface Pair {
  primary: Host;
  standby: Host;
  close(): Promise<void>;
}

export async function connectPair(options: Options, io: Io): Promise<Pair> {
  for (const role of roles) {
    if (!options[role]) {
      throw new UsageError(`no ${role} host given`, `pass --${role} [user@]host[:port], or put "${role}:" in the --config file`);
    }
  }
  const connect = (role: Role) =>
    connectHost({
      role,
      target: options[role]!,
      identity: options.identity,
      knownHostsFile: options.knownHosts,
      sshConfigFile: options.sshConfig,
      agentSocket: options.sshAgentSocket,
      deadAfterMs: options.sshDeadAfterMs,
      confirmHostKey: io.interactive ? (key) => io.confirmHostKey(key) : undefined,
      sudoPassword: async (loginUser) =>
        options.sudoPasswords?.[role] ??
        (io.interactive ? await io.askSecret(`sudo password for ${loginUser} on the ${role} ${options[role]} (sudo alone receives it; asked once):`, sudoPasswordEnvs[role]) : undefined),
    });
  const [primary, standby] = await Promise.allSettled([connect('primary'), connect('standby')]);
  if (primary.status === 'rejected' || standby.status === 'rejected') {
    await Promise.all([primary, standby].map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw primary.status === 'rejected' ? primary.reason : (standby as PromiseRejectedResult).reason;
  }
  return {
    primary: primary.value,
    standby: standby.value,
    close: async () => {
      await Promise.all([primary.value.close(), standby.value.close()]);
    },
  };
}

export interface PairFacts {
  primary: HostFacts;
  standby: HostFacts;
}

/** Discovers both hosts in parallel; a host with several clusters asks which one (or names the flag). */
export async function discoverPair(pair: Pair, options: Options, io: Io): Promise<PairFacts> {
  const discover = async (role: Role): Promise<HostFacts> => {
    const host = pair[role];
    const clusters = await listClusters(host, options[`${role}Cluster`], options[`${role}Bindir`]);
    const where = `${role} ${host.label}`;
    const chosen =
      chooseCluster(clusters, options[`${role}Cluster`], role, where) ??
      (await io.choose(
        `Several PostgreSQL clusters on the ${role} ${host.label}; which one?`,
        clusters.map((c) => ({ label: describeCluster(c), value: c })),
        `--${role}-cluster`,
      ));
    // Files, pg_ctl and SQL of this cluster run as the OS user that owns its data directory.
    host.serverUser = chosen.owner;
    chosen.clientBinDir = await findClientBinDir(host, chosen);
    return inspectHost(host, clusters, chosen);
  };
  const [primary, standby] = await Promise.all([discover('primary'), discover('standby')]);
  return { primary, standby };
}
