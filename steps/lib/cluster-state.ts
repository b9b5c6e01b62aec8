import type { ClusterAddress } from '../../src/remote/host.js';
import { clusterAddress } from '../../src/discovery/clusters.js';
import type { Node } from '../contract.js';
import { isRunning } from './server-control.js';

/**
 * Live facts about a cluster, read fresh each time (discovery's snapshot goes stale as soon
 * as a step stops or starts a server). All of them only read.
 */

/** Where the cluster listens now (also refreshed on the node), or undefined when it is stopped. */
export async function runningAddress(node: Node): Promise<ClusterAddress | undefined> {
  if (!(await isRunning(node.host, node.cluster))) return undefined;
  node.address = await clusterAddress(node.host, node.cluster);
  return node.address;
}

/** The system identifier of the cluster's data directory, or undefined when there is none. */
export async function systemIdentifier(node: Node): Promise<string | undefined> {
  const address = await runningAddress(node);
  if (address) {
    const [row] = await node.host.sql<{ id: string }>(address, 'SELECT system_identifier::text AS id FROM pg_control_system()');
    return row.id;
  }
  const control = await node.host.exec([`${node.cluster.binDir}/pg_controldata`, '-D', node.cluster.dataDirectory], { as: 'postgres' });
  return control.code === 0 ? /Database system identifier:\s+(\d+)/.exec(control.stdout)?.[1] : undefined;
}

/**
 * Settings as the server would take them from its files now (`postgres -C`, which also
 * works while it runs): what the next start will use.
 */
export async function settingsFromFiles(node: Node, names: readonly string[]): Promise<Record<string, string>> {
  const { cluster } = node;
  const configFile = cluster.configDir ? `${cluster.configDir}/postgresql.conf` : `${cluster.dataDirectory}/postgresql.conf`;
  // One remote loop instead of one round trip per setting; names and paths arrive as "$@".
  const script = 'postgres="$1"; data="$2"; conf="$3"; shift 3; for name; do v=$("$postgres" -D "$data" -c "config_file=$conf" -C "$name" 2>/dev/null) && printf "%s\\t%s\\n" "$name" "$v"; done';
  const output = await node.host.run(['sh', '-c', script, 'sh', `${cluster.binDir}/postgres`, cluster.dataDirectory, configFile, ...names], { as: 'postgres' });
  const settings: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) settings[line.slice(0, tab)] = line.slice(tab + 1);
  }
  return settings;
}

/**
 * Why this running cluster must not be overwritten or reconfigured as a standby: it is out
 * of recovery and has standbys streaming from it. Undefined when nothing speaks against it.
 */
export async function servesAsPrimary(node: Node, address: ClusterAddress): Promise<string | undefined> {
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
