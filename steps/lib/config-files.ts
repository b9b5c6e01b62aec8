import { createTwoFilesPatch } from 'diff';
import { byHandLine, type Host } from '../../src/remote/host.js';
import * as privileged from '../../src/remote/commands.js';
import type { Privilege } from '../../src/remote/commands.js';
import type { ChangeRecord, Side } from '../contract.js';

/** A sortable, collision-safe suffix for backups and kept data directories. */
export const timestampSuffix = (now = new Date()) => now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

export function unifiedDiff(path: string, before: string, after: string): string {
  return createTwoFilesPatch(path, path, before, after, 'current', 'after pgrepl-wizard', { context: 2 })
    .split('\n')
    .slice(1) // drop the "Index:"/separator header line
    .join('\n');
}

/** Copies a file next to itself (mode and owner kept) and returns the copy's path. */
export async function backupFile(host: Host, path: string, as: Privilege): Promise<string> {
  const backup = `${path}.pgrepl-backup-${timestampSuffix()}`;
  await host.run(privileged.copyPreserving(path, backup), { as });
  return backup;
}

/**
 * The one way steps change a config file: back it up, write the new text atomically, and
 * record the change with its undo command. `existed`: whether the caller has just read the
 * file (asked here otherwise).
 */
export async function rewriteConfigFile(
  host: Host,
  side: Side,
  path: string,
  content: string,
  as: Privilege,
  recordChange: (change: ChangeRecord) => void,
  existed?: boolean,
): Promise<string | undefined> {
  existed ??= (await host.readFile(path, as)) !== null;
  const backup = existed ? await backupFile(host, path, as) : undefined;
  await host.writeFile(path, content, { as, mode: '600' });
  recordChange({
    side,
    what: `rewrote ${path}`,
    backup,
    undo: byHandLine(host, as, backup ? ['cp', '-p', '--', backup, path] : ['rm', '--', path]),
  });
  return backup;
}
