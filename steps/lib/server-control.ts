import { WizardError } from '../../src/errors.js';
import type { Host } from '../../src/remote/host.js';
import type { ClusterRef } from '../../src/facts/clusters.js';
import { clusterAddress } from '../../src/facts/clusters.js';
import type { Node } from '../contract.js';

export type ServerAction = 'start' | 'stop' | 'restart' | 'reload';

/**
 * Start/stop with the host's own tool, so the init system's view stays right: Debian's
 * pg_ctlcluster (which itself defers to systemd when systemd manages the cluster), else pg_ctl.
 */
export function serverControlCommand(cluster: ClusterRef, action: ServerAction): string[] {
  if (cluster.manager === 'pg_ctlcluster') {
    const [version, name] = cluster.id.split('/');
    const mode = action === 'stop' || action === 'restart' ? ['-m', 'fast'] : [];
    return ['pg_ctlcluster', ...mode, version, name, action];
  }
  // systemd waits for the server itself (PGDG's units run pg_ctl -w or use notify).
  if (cluster.manager === 'systemctl' && cluster.unit) return ['systemctl', action, cluster.unit];
  const mode = action === 'stop' || action === 'restart' ? ['-m', 'fast'] : [];
  const wait = action === 'reload' ? [] : ['-w', '-t', '300'];
  const log = action === 'start' || action === 'restart' ? ['-l', `${cluster.dataDirectory}/pgrepl-startup.log`] : [];
  return [`${cluster.binDir}/pg_ctl`, action, '-D', cluster.dataDirectory, ...mode, ...wait, ...log];
}

export async function controlServer(node: Node, action: ServerAction): Promise<void> {
  const { host, cluster } = node;
  // pg_ctlcluster must run as root to manage a cluster owned by postgres on systemd hosts.
  const as = cluster.manager === 'pg_ctl' ? 'postgres' : 'root';
  const result = await host.exec(serverControlCommand(cluster, action), { as });
  if (result.code !== 0) {
    throw new WizardError(
      `could not ${action} cluster ${cluster.id}: ${(result.stderr || result.stdout).trim()}`,
      `${host.role} ${host.label}`,
      `look at the server log${cluster.logFile ? ` (${cluster.logFile})` : ''} for the reason`,
    );
  }
  // A restart may move the socket (e.g. a changed unix_socket_directories): read it again.
  if (action === 'start' || action === 'restart') node.address = await clusterAddress(host, cluster);
  if (action === 'stop') node.address = undefined;
}

export async function isRunning(host: Host, cluster: ClusterRef): Promise<boolean> {
  const result = await host.exec([`${cluster.binDir}/pg_ctl`, 'status', '-D', cluster.dataDirectory], { as: 'postgres' });
  // pg_ctl status: 0 running, 3 not running, 4 no data directory.
  return result.code === 0;
}
