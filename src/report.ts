import type { HostFacts } from './facts/host.js';
import { describeCluster } from './facts/clusters.js';
import { sudoersLines } from './remote/sudoers.js';

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || Number.isNaN(bytes)) return 'unknown';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A duration for people: 500 ms, 12.3 s, 4 min 5 s, 2 h 10 min, 3 days. */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  if (seconds < 86400 * 2) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${Math.round(seconds / 86400)} days`;
}

/** The plain-text inspect report: what an operator would check by hand, host by host. */
export function hostReport(facts: HostFacts, sudoersFor = facts.loginUser): string[] {
  const lines = [`${facts.role}: ${facts.label} (${facts.address}), logged in as ${facts.loginUser}`, `  OS: ${facts.os}`];
  lines.push(`  clusters: ${facts.clusters.map(describeCluster).join('; ')}`);
  const cluster = facts.cluster;
  if (!cluster) return [...lines, '  (no cluster chosen)'];
  lines.push(
    `  chosen cluster: ${cluster.ref.id}, PostgreSQL ${cluster.serverVersion ?? cluster.ref.major}, port ${cluster.ref.port}, ${cluster.ref.running ? 'running' : 'stopped'}${cluster.inRecovery ? ', in recovery (a standby)' : ''}`,
    `  data_directory: ${cluster.dataDirectory}`,
    `  config_file: ${cluster.configFile}`,
    `  hba_file: ${cluster.hbaFile}`,
    `  system identifier: ${cluster.systemIdentifier ?? 'unknown'}`,
    `  data size: ${formatBytes(cluster.dataSizeBytes)}, free at data directory: ${formatBytes(cluster.freeBytes)}`,
    `  pg_basebackup: ${facts.pgBasebackup ? `${facts.pgBasebackup.path} (${facts.pgBasebackup.version})` : 'not found'}`,
    '  settings:',
  );
  for (const [name, setting] of Object.entries(cluster.settings)) {
    const pending = setting.pendingRestart ? ' (changed, waits for a restart)' : '';
    lines.push(`    ${name} = ${setting.value || "''"}  [${setting.source}]${pending}`);
  }
  if (cluster.standbys) {
    const standbys = cluster.standbys.map((s) => `${s.name || 'unnamed'} from ${s.clientAddr ?? 'a local socket'} (${s.state}, ${s.syncState}${s.slot ? `, slot ${s.slot}` : ', no slot'})`);
    lines.push(`  standbys streaming from it (pg_stat_replication): ${standbys.join('; ') || 'none'}`);
  }
  if (cluster.slots) lines.push(`  physical replication slots: ${cluster.slots.map((slot) => `${slot.name} (${slot.active ? 'active' : 'inactive'})`).join(', ') || 'none'}`);
  const { owner, manager, systemd } = cluster.ref;
  lines.push(`  sudo rules enough for the wizard here for ${sudoersFor} (instead of ALL), for /etc/sudoers.d/:`);
  lines.push(...sudoersLines({ loginUser: sudoersFor, serverUser: owner, manager, systemd: systemd ?? manager === 'systemctl' }).map((line) => `    ${line}`));
  return lines;
}
