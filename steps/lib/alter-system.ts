import pg from 'pg';
import { WizardError } from '../../src/errors.js';
import { byHandLine } from '../../src/remote/host.js';
import { afterAlterSystem, type AutoConfEntry } from '../../src/facts/auto-conf.js';
import { where, type ChangeRecord, type Node, type PlannedAction } from '../contract.js';
import { backupFile, unifiedDiff } from './config-files.js';
import { query, restoreBackup } from './live-server.js';
import { serverControl, type ServerAction } from './server-control.js';

/**
 * Server settings changed with ALTER SYSTEM: the server validates each value, and
 * postgresql.auto.conf overrides postgresql.conf and its include files. The file is backed up
 * first and put back when the result does not parse; the change is recorded with its undo.
 */

export const autoConfPath = (node: Node) => `${node.cluster.dataDirectory}/postgresql.auto.conf`;

export const alterStatements = (changes: readonly AutoConfEntry[]) => changes.map((change) => `ALTER SYSTEM SET ${change.name} = ${pg.escapeLiteral(change.value)}`);

/** The plan's action: the statements and the exact diff of postgresql.auto.conf they give. */
export async function alterSystemAction(node: Node, changes: readonly AutoConfEntry[], why = ''): Promise<PlannedAction> {
  const path = autoConfPath(node);
  const current = await node.host.readFile(path, 'postgres');
  return {
    side: node.host.role === 'standby' ? 'standby' : 'primary',
    summary: `set ${changes.map((change) => change.name).join(', ')} with ALTER SYSTEM (${path} is backed up first; it overrides postgresql.conf)${why}`,
    sql: alterStatements(changes).join(';\n') + ';',
    diff: unifiedDiff(path, current ?? '', afterAlterSystem(current, changes, node.cluster.major)),
  };
}

/** The command an operator types to act on the cluster themselves (as the user that may). */
export function manualControl(node: Node, action: ServerAction): string {
  const control = serverControl(node.cluster, action);
  return byHandLine(node.host, control.as, control.argv);
}

/** Errors in the configuration files, except "cannot change without restart", which is expected. */
async function configErrors(node: Node): Promise<string[]> {
  const rows = await query<{ sourcefile: string | null; sourceline: number | null; name: string | null; error: string }>(
    node,
    `SELECT f.sourcefile, f.sourceline, f.name, f.error
       FROM pg_file_settings f LEFT JOIN pg_settings s ON s.name = lower(f.name)
      WHERE f.error IS NOT NULL
        AND NOT (f.error = 'setting could not be applied' AND s.context = 'postmaster')`,
  );
  return rows.map((row) => `${row.sourcefile ?? '?'}:${row.sourceline ?? '?'}${row.name ? ` (${row.name})` : ''}: ${row.error}`);
}

/**
 * Runs the ALTER SYSTEM statements (nothing reloads yet) and returns the backup of
 * postgresql.auto.conf; `takesEffect` is what the undo needs after copying it back.
 */
export async function alterSystem(node: Node, changes: readonly AutoConfEntry[], recordChange: (change: ChangeRecord) => void, takesEffect: 'reload' | 'restart'): Promise<string> {
  const before = await configErrors(node);
  if (before.length > 0) {
    throw new WizardError(
      `the ${node.host.role}'s configuration files already contain errors: ${before.join('; ')}`,
      where(node),
      'fix those lines first (a reload would not apply the files as they are), then run again',
    );
  }
  const path = autoConfPath(node);
  const backup = await backupFile(node.host, path, 'postgres');
  const rollBack = async (cause: string): Promise<never> => {
    await restoreBackup(node, backup, path, 'postgres');
    throw new WizardError(
      `ALTER SYSTEM did not give a valid configuration (${cause}); ${path} was restored from ${backup}`,
      where(node),
      'check the value named above (e.g. the archive directory or the listen address) and run again',
    );
  };
  for (const statement of alterStatements(changes)) {
    try {
      await query(node, statement);
    } catch (error) {
      await rollBack(error instanceof Error ? error.message : String(error));
    }
  }
  const after = await configErrors(node);
  if (after.length > 0) await rollBack(after.join('; '));
  recordChange({
    side: node.host.role === 'standby' ? 'standby' : 'primary',
    what: `ALTER SYSTEM SET ${changes.map((change) => `${change.name} = '${change.value}'`).join(', ')} (in ${path})`,
    backup,
    undo: `${byHandLine(node.host, 'postgres', ['cp', '-p', '--', backup, path])} && ${manualControl(node, takesEffect)}`,
  });
  return backup;
}
