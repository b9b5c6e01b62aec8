import type { ClusterAddress, Host } from '../remote/host.js';
import { configuredSettings, liveClusterAddress, readControlFile, type ClusterRef } from './clusters.js';

/**
 * Live facts about a cluster, read fresh each time (discovery's snapshot goes stale as soon
 * as a step stops or starts a server). All of them only read.
 */

/** A chosen cluster on its host, and where it listened when last seen (a step's Node is one). */
export interface LiveCluster {
  host: Host;
  cluster: ClusterRef;
  /** How to reach the cluster over its Unix socket; refreshed by runningAddress. */
  address?: ClusterAddress;
}

/**
 * Where the cluster listens now (also refreshed on the node), or undefined when it is stopped.
 * The server itself answers first, on the session already open to the address found last
 * time (a query, no remote command); only when it does not say it serves this data
 * directory are pg_ctl status and postmaster.pid asked.
 */
export async function runningAddress(node: LiveCluster): Promise<ClusterAddress | undefined> {
  if (node.address && (await servesDataDirectory(node, node.address))) return node.address;
  node.address = await liveClusterAddress(node.host, node.cluster);
  return node.address;
}

async function servesDataDirectory(node: LiveCluster, address: ClusterAddress): Promise<boolean> {
  try {
    const [row] = await node.host.sql<{ dir: string }>(address, "SELECT current_setting('data_directory') AS dir");
    return row?.dir === node.cluster.dataDirectory;
  } catch {
    // Stopped, restarted elsewhere, or not accepting connections yet: the files tell.
    return false;
  }
}

/** The system identifier of the cluster's data directory, or undefined when there is none. */
export async function systemIdentifier(node: LiveCluster): Promise<string | undefined> {
  const address = await runningAddress(node);
  if (address) {
    const [row] = await node.host.sql<{ id: string }>(address, 'SELECT system_identifier::text AS id FROM pg_control_system()');
    return row.id;
  }
  return (await readControlFile(node.host, node.cluster))?.systemIdentifier;
}

/** Settings as the running server has them now (pg_settings); names it does not know are left out. */
export async function liveSettings(host: Host, address: ClusterAddress, names: readonly string[]): Promise<Record<string, string>> {
  const rows = await host.sql<{ name: string; setting: string }>(address, 'SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [names]);
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}

/** Settings as the next start will take them from the cluster's files. */
export const settingsFromFiles = (node: LiveCluster, names: readonly string[]) => configuredSettings(node.host, node.cluster, names);

/**
 * Why this running cluster must not be overwritten or reconfigured as a standby: it is out
 * of recovery and has standbys streaming from it. Undefined when nothing speaks against it.
 */
export async function servesAsPrimary(node: LiveCluster, address: ClusterAddress): Promise<string | undefined> {
  const [row] = await node.host.sql<{ in_recovery: boolean; walsenders: number; clients: string | null }>(
    address,
    `SELECT pg_is_in_recovery() AS in_recovery,
            (SELECT count(*)::int FROM pg_stat_replication) AS walsenders,
            (SELECT string_agg(coalesce(nullif(application_name, ''), 'unnamed') || ' from ' || coalesce(host(client_addr), 'local socket'), ', ')
               FROM pg_stat_replication) AS clients`,
  );
  if (row.in_recovery || row.walsenders === 0) return undefined;
  return `cluster ${node.cluster.id} is a running primary with ${row.walsenders} replication connection(s) (${row.clients})`;
}
