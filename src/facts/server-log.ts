import * as privileged from '../remote/commands.js';
import { liveSettings, runningAddress, settingsFromFiles, type LiveCluster } from './live.js';

/**
 * The cluster's own log, for putting PostgreSQL's reason into an error and for doctor's
 * evidence: Debian's per-cluster file, the file pg_ctl -l writes (steps/lib/server-control.ts),
 * and the logging collector's directory.
 */

/** The settings that say where the logging collector writes. */
export const logSettingNames = ['logging_collector', 'log_directory'];

/** Read from the files by a step a moment before the next look at the logs (see rememberLogSettings). */
const justRead = new WeakMap<LiveCluster, Record<string, string>>();

/**
 * Hands settings a step has just read from the node's files (`postgres -C`, one process per
 * name) to the next look at its logs, which then need not run them again. Only for a step
 * that changes none of them before that look (recovery-config, right before the start).
 */
export function rememberLogSettings(node: LiveCluster, settings: Record<string, string>): void {
  justRead.set(node, settings);
}

async function logPaths(node: LiveCluster): Promise<string[]> {
  const { cluster } = node;
  const paths: string[] = [];
  if (cluster.logFile) paths.push(cluster.logFile);
  if (cluster.manager === 'pg_ctl') paths.push(`${cluster.dataDirectory}/pgrepl-startup.log`);
  const remembered = justRead.get(node);
  justRead.delete(node);
  const settings = remembered ?? (await logSettings(node));
  if (settings.logging_collector === 'on' && settings.log_directory) {
    const dir = settings.log_directory;
    paths.push(dir.startsWith('/') ? dir : `${cluster.dataDirectory}/${dir}`);
  }
  return paths;
}

/**
 * Where the server writes its log: a running server (one last seen listening) says it on its
 * open session, a query, where its files would cost a `postgres -C` process per name; a
 * stopped one's files say where its next start writes.
 */
async function logSettings(node: LiveCluster): Promise<Record<string, string>> {
  const address = node.address && (await runningAddress(node));
  return address ? liveSettings(node.host, address, logSettingNames) : settingsFromFiles(node, logSettingNames);
}

/** Every log file now, with its size and modification time (a directory lists its files). */
async function logFiles(node: LiveCluster): Promise<{ path: string; size: number; mtime: number }[]> {
  const paths = await logPaths(node);
  if (paths.length === 0) return [];
  // Paths that do not exist yet make find complain and exit 1: the others are still listed.
  const result = await node.host.exec(privileged.listLogFiles(paths), { as: 'postgres' });
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [mtime, size, ...path] = line.split('\t');
      return { path: path.join('\t'), size: Number(size), mtime: Number(mtime) };
    });
}

async function tailFrom(node: LiveCluster, path: string, offset: number, maxBytes: number): Promise<string> {
  const result = await node.host.exec(privileged.tailFile(offset + 1, path, maxBytes), { as: 'postgres' });
  return result.stdout;
}

export type LogMark = Map<string, number>;

/** Where each log file ends now, so that only what a start writes is read afterwards. */
export async function markLog(node: LiveCluster): Promise<LogMark> {
  return new Map((await logFiles(node)).map((file) => [file.path, file.size]));
}

/** What the server logged since the mark (new files whole, rotated ones from the start). */
export async function logSince(node: LiveCluster, mark: LogMark): Promise<string> {
  const texts: string[] = [];
  for (const file of await logFiles(node)) {
    const before = mark.get(file.path) ?? 0;
    if (file.size === before) continue;
    texts.push(await tailFrom(node, file.path, file.size > before ? before : 0, 65_536));
  }
  return texts.join('\n');
}

/** The end of the most recently written log file, and that file's path; undefined when there is none. */
async function newestLogTail(node: LiveCluster, bytes: number): Promise<{ path: string; text: string } | undefined> {
  const newest = (await logFiles(node)).sort((a, b) => b.mtime - a.mtime)[0];
  return newest && { path: newest.path, text: await tailFrom(node, newest.path, Math.max(0, newest.size - bytes), bytes) };
}

/**
 * The end of a cluster's newest log and where it came from: its log file (Debian's per-cluster
 * file, the collector's directory, pg_ctl's file), else the systemd journal of its unit
 * (its last 3000 lines).
 */
export async function newestLog(node: LiveCluster, bytes: number): Promise<{ source: string; text: string }> {
  const file = await newestLogTail(node, bytes);
  if (file) return { source: file.path, text: file.text };
  // Debian's per-cluster unit, else the RHEL/PGDG and distribution unit names.
  const { cluster } = node;
  const units = cluster.unit ? [cluster.unit] : cluster.manager === 'pg_ctlcluster' ? [`postgresql@${cluster.id.replace('/', '-')}.service`] : [`postgresql-${cluster.major}.service`, 'postgresql.service'];
  const journal = await node.host.exec(privileged.journal(units), { as: 'root' });
  return journal.code === 0 ? { source: `journald (${units.join(', ')})`, text: journal.stdout } : { source: 'no log found', text: '' };
}

/** The end of the most recently written log file. */
export async function recentLog(node: LiveCluster, bytes = 32_768): Promise<string> {
  return (await newestLogTail(node, bytes))?.text ?? '';
}

// Our own connection attempts while a server starts or stops, not a reason for anything.
const expected = [
  'the database system is starting up',
  'the database system is not yet accepting connections',
  'the database system is shutting down',
  'due to administrator command',
];

/**
 * The lines of a server log that explain a failure: FATAL/PANIC/ERROR with their DETAIL and
 * HINT, and the hot-standby parameter warnings. Log prefixes are cut off; repeats (the
 * walreceiver retries every few seconds) are shown once, at their last place; the last
 * `limit` messages are kept.
 */
export function problemLines(log: string, limit = 4): string[] {
  const messages: string[][] = [];
  let current: string[] | undefined;
  for (const raw of log.split('\n')) {
    const problem = /\b(?:FATAL|PANIC|ERROR|WARNING):\s+.*$/.exec(raw)?.[0];
    const detail = /\b(?:DETAIL|HINT):\s+.*$/.exec(raw)?.[0];
    if (problem && (!problem.startsWith('WARNING') || problem.includes('hot standby is not possible'))) {
      current = expected.some((text) => problem.includes(text)) ? undefined : [problem.replace(/\s+/, ' ')];
      if (current) messages.push(current);
    } else if (detail && current) {
      current.push(detail.replace(/\s+/, ' '));
    } else {
      current = undefined;
    }
  }
  const keys = messages.map((message) => message.join('\n'));
  return messages.filter((_, i) => keys.lastIndexOf(keys[i]) === i).slice(-limit).flat();
}
