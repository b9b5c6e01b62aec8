import { setTimeout as sleep } from 'node:timers/promises';
import { WizardError } from '../../src/errors.js';
import type { ClusterAddress, SqlRow } from '../../src/remote/host.js';
import * as privileged from '../../src/remote/commands.js';
import type { Privilege } from '../../src/remote/commands.js';
import { where, type ChangeRecord, type Node, type Side } from '../contract.js';
import { rewriteConfigFile } from './config-files.js';
import { hbaErrorLines, type HbaRule } from './hba-rules.js';
import { passwordMethodFor, type PasswordMethod } from './password-verifier.js';
import { serverControlCommand } from './server-control.js';
import { commandLine } from '../../src/remote/quote.js';

/** Live state is always read from the server itself, over the cluster's Unix socket. */
export function liveAddress(node: Node): ClusterAddress {
  if (!node.address) {
    throw new WizardError(
      `cluster ${node.cluster.id} was not running when the hosts were inspected`,
      where(node),
      `start it (${commandLine(serverControlCommand(node.cluster, 'start'))}) and run again`,
    );
  }
  return node.address;
}

export const query = <Row extends SqlRow = SqlRow>(node: Node, text: string, params?: unknown[]) =>
  node.host.sql<Row>(liveAddress(node), text, params);

export async function liveSetting(node: Node, name: string): Promise<string> {
  const [row] = await query<{ value: string }>(node, 'SELECT current_setting($1) AS value', [name]);
  return row.value;
}

/** SCRAM, or md5 where an older server still keeps md5 (see passwordMethodFor). */
export async function livePasswordMethod(node: Node): Promise<PasswordMethod> {
  return passwordMethodFor(node.cluster.major, await liveSetting(node, 'password_encryption'));
}

/** OS user that owns a file: config edits run as that user, so ownership and mode stay as they were. */
export async function fileOwner(node: Node, path: string): Promise<Privilege> {
  const owner = (await node.host.run(privileged.statPath('%U', path), { as: 'postgres' })).trim();
  return owner === node.host.serverUser ? 'postgres' : 'root';
}

/** Puts a backup taken with backupFile back in place. */
export async function restoreBackup(node: Node, backup: string, path: string, as: Privilege): Promise<void> {
  await node.host.run(privileged.copyPreserving(backup, path), { as });
}

const reloadTimeoutMs = 10_000;

/**
 * pg_reload_conf() only sends SIGHUP and returns at once. pg_conf_load_time() is per session:
 * once ours has moved, the postmaster (which signals the sessions after re-reading) has
 * re-read pg_hba.conf and the config files, and pg_settings in this session is current.
 */
export async function reloadAndWait(node: Node): Promise<void> {
  const loadTime = async () => (await query<{ at: string }>(node, 'SELECT pg_conf_load_time()::text AS at'))[0].at;
  const before = await loadTime();
  await query(node, 'SELECT pg_reload_conf()');
  const deadline = Date.now() + reloadTimeoutMs;
  while (Date.now() < deadline) {
    if ((await loadTime()) !== before) return;
    await sleep(10);
  }
  throw new WizardError(
    `cluster ${node.cluster.id} did not re-read its configuration within ${reloadTimeoutMs / 1000} s of pg_reload_conf() (pg_conf_load_time() still ${before})`,
    where(node),
    `look at the server log${node.cluster.logFile ? ` (${node.cluster.logFile})` : ''} for "configuration file … contains errors", fix it, and run again`,
  );
}

/**
 * pg_hba.conf rewritten to `text` (backed up first) and loaded. pg_hba_file_rules parses the
 * file on disk, so a bad edit is caught before any reload: then the backup is put back, nothing
 * is reloaded, and the error lines are returned for the caller's message (none: reloaded).
 */
export async function replaceHbaFile(node: Node, side: Side, path: string, text: string, owner: Privilege, recordChange: (change: ChangeRecord) => void): Promise<{ backup: string; errors: string[] }> {
  const backup = (await rewriteConfigFile(node.host, side, path, text, owner, recordChange, true))!;
  const errors = hbaErrorLines(await query<HbaRule>(node, 'SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL'));
  if (errors.length > 0) await restoreBackup(node, backup, path, owner);
  else await reloadAndWait(node);
  return { backup, errors };
}
