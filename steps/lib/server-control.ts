import { WizardError } from '../../src/errors.js';
import type { ExecResult, Host } from '../../src/remote/host.js';
import * as privileged from '../../src/remote/commands.js';
import type { Privilege, PrivilegedArgv } from '../../src/remote/commands.js';
import type { ClusterRef } from '../../src/facts/clusters.js';
import { clusterAddress } from '../../src/facts/clusters.js';
import type { Node } from '../contract.js';

export type ServerAction = 'start' | 'stop' | 'restart' | 'reload';

/** A command and the user it must run as. */
export type ServerControl = { as: 'root'; argv: PrivilegedArgv<'root'> } | { as: 'postgres'; argv: PrivilegedArgv<'postgres'> };

/**
 * Start/stop with the host's own tool, so the init system's view stays right: Debian's
 * pg_ctlcluster (as root on a systemd host, where it hands the cluster to systemd; as the
 * server's OS user elsewhere, where it runs pg_ctl), a systemd unit's systemctl, else pg_ctl.
 */
export function serverControl(cluster: ClusterRef, action: ServerAction): ServerControl {
  const mode = action === 'stop' || action === 'restart' ? ['-m', 'fast'] : [];
  if (cluster.manager === 'pg_ctlcluster') {
    const [version, name] = cluster.id.split('/');
    const argv = privileged.pgCtlCluster([...mode, version, name, action]);
    return cluster.systemd ? { as: 'root', argv } : { as: 'postgres', argv };
  }
  // systemd waits for the server itself (PGDG's units run pg_ctl -w or use notify).
  if (cluster.manager === 'systemctl' && cluster.unit) return { as: 'root', argv: privileged.systemctl(action, cluster.unit) };
  const wait = action === 'reload' ? [] : ['-w', '-t', '300'];
  const log = action === 'start' || action === 'restart' ? ['-l', `${cluster.dataDirectory}/pgrepl-startup.log`] : [];
  return { as: 'postgres', argv: privileged.pgCtl(cluster.binDir, [action, '-D', cluster.dataDirectory, ...mode, ...wait, ...log]) };
}

/**
 * What an interrupted start leaves: pg_ctlcluster runs pg_ctl start in a session of its own,
 * pg_ctl starts the postmaster in one, systemd starts it itself, so ending the run's command
 * does not end a start under way. The server is left to come up rather than stopped half-way:
 * the operator gets a running server back, and the next run waits for it.
 */
export const startGoesOn = 'a start already under way goes on by itself (the server is started detached from the run)';

/** The argv alone, as the plan and the hints show it. */
export const serverControlCommand = (cluster: ClusterRef, action: ServerAction): string[] => [...serverControl(cluster, action).argv];

const execControl = (host: Host, control: ServerControl): Promise<ExecResult> =>
  control.as === 'root' ? host.exec(control.argv, { as: 'root' }) : host.exec(control.argv, { as: 'postgres' });

/**
 * Debian's pg_ctlcluster, as the server's OS user, waits after pg_ctl about 2 s more (its own
 * connection probes); the server's own readiness ends the wait instead (commands.ts
 * startUntilReady). Under systemd the unit's start is left as it is.
 */
function untilReady(cluster: ClusterRef, action: ServerAction, control: ServerControl): ServerControl {
  if (control.as !== 'postgres' || cluster.manager !== 'pg_ctlcluster' || (action !== 'start' && action !== 'restart')) return control;
  return { as: 'postgres', argv: privileged.startUntilReady(cluster.dataDirectory, control.argv) };
}

export async function controlServer(node: Node, action: ServerAction): Promise<void> {
  const { host, cluster } = node;
  const result = await execControl(host, untilReady(cluster, action, serverControl(cluster, action)));
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
  const result = await host.exec(privileged.pgCtl(cluster.binDir, ['status', '-D', cluster.dataDirectory]), { as: 'postgres' });
  // pg_ctl status: 0 running, 3 not running, 4 no data directory.
  return result.code === 0;
}
