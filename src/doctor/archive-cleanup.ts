import * as privileged from '../remote/commands.js';
import { WizardError } from '../errors.js';
import { commandLine } from '../remote/quote.js';
import { formatBytes } from '../report.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from '../../steps/contract.js';
import { query } from '../../steps/lib/live-server.js';
import { archiveDirectoryOf, cloneLabel } from '../../steps/lib/wal-archive.js';
import { readArchive, walNeedOf, walNeedSql, type ArchiveFact, type ArchiveFile, type BackupHistory, type WalNeed } from './facts.js';

/**
 * Cleaning a WAL archive that no standby cleans (archive-cleanup): pg_archivecleanup removes
 * the WAL files older than the oldest segment anything still needs, the least of the
 * primary's checkpoint redo, every slot's restart_lsn and every connected standby's replay
 * position, and older than the oldest base backup an operator took into the archive.
 */

export interface ArchiveCleanup {
  /** pg_archivecleanup's last argument: the oldest segment still needed, or the history file of a base backup that starts before it. */
  keepFrom: string;
  /** The operator's oldest base backup, when its WAL starts before the segment still needed. */
  heldBy?: BackupHistory;
  /** The WAL files it removes (names compared without the timeline, as pg_archivecleanup does; the step takes pg_archivecleanup -n's list). */
  removable: ArchiveFile[];
  bytes: number;
}

/** WAL segments and the partial ones a promotion leaves: what pg_archivecleanup removes. */
const walFile = /^[0-9A-F]{24}(\.partial)?$/;

/** The segment a keep-from argument names (a history file NAME.backup starts with its segment). */
const segmentOf = (keepFrom: string) => keepFrom.slice(0, 24);

/** The earlier of two keep-from arguments (segment or history file), by segment without the timeline. */
export const earlier = (a: string, b: string) => (segmentOf(b).slice(8) < segmentOf(a).slice(8) ? b : a);

const totalBytes = (files: readonly ArchiveFile[]) => files.reduce((sum, file) => sum + file.bytes, 0);

/** The files a cleanup removes, in name order, and their size. */
const removalOf = (files: readonly ArchiveFile[]): Pick<ArchiveCleanup, 'removable' | 'bytes'> => {
  const removable = [...files].sort((a, b) => a.name.localeCompare(b.name));
  return { removable, bytes: totalBytes(removable) };
};

/**
 * What a cleanup keeping `needed` (a segment name) removes. This wizard's clones leave backup
 * history files (label `pgrepl-wizard clone`) that no base backup stands behind; any other one
 * is an operator's base backup, kept for point-in-time recovery, whose WAL stays.
 */
export function archiveCleanupOf(archive: Pick<ArchiveFact, 'files' | 'backups'>, needed: string): ArchiveCleanup {
  const heldBy = archive.backups
    .filter((backup) => backup.label !== cloneLabel)
    .sort((a, b) => a.name.slice(8).localeCompare(b.name.slice(8)))
    .find((backup) => earlier(needed, backup.name) === backup.name);
  const keepFrom = heldBy?.name ?? needed;
  return { keepFrom, heldBy, ...removalOf(archive.files.filter((file) => walFile.test(file.name) && file.name.slice(8, 24) < segmentOf(keepFrom).slice(8))) };
}

/** Why the cleanup keeps what it keeps, in one line. */
export function keepReason(need: WalNeed, cleanup: ArchiveCleanup): string {
  const needs = `${need.keepFrom}, the oldest segment still needed (checkpoint redo ${need.checkpointRedo}; oldest slot restart_lsn ${need.oldestSlotRestart ?? 'none'}; oldest standby replay_lsn ${need.oldestStandbyReplay ?? 'none connected'})`;
  if (!cleanup.heldBy) return `keeps ${needs} and all later ones`;
  return (
    `keeps ${cleanup.heldBy.name} (base backup "${cleanup.heldBy.label}") and all later WAL, since that backup's WAL starts before ${needs}; ` +
    'once you no longer keep that backup, remove its .backup file from the archive and the next cleanup goes further'
  );
}

interface CleanupNow {
  dir: string;
  tool: string;
  need: WalNeed;
  cleanup: ArchiveCleanup;
}

/** The archive as it is now, cleaned up to `keepFrom` at the most (less when something now needs older WAL). */
async function cleanupNow(ctx: StepContext, keepFrom: string): Promise<CleanupNow> {
  const [settings] = await query<{ archive_mode: string; archive_command: string }>(ctx.primary, "SELECT current_setting('archive_mode') AS archive_mode, current_setting('archive_command') AS archive_command");
  const dir = settings.archive_mode === 'off' ? undefined : archiveDirectoryOf(settings.archive_command);
  if (dir === undefined) throw new WizardError('the primary archives into no directory this wizard knows (archive_mode off, or another archive_command)', where(ctx.primary), 'run doctor again');
  const [[row], archive] = await Promise.all([query<Parameters<typeof walNeedOf>[0]>(ctx.primary, walNeedSql), readArchive(ctx.primary, dir)]);
  if (!row) throw new WizardError('the primary is in recovery: its archive needs are not its own to judge', where(ctx.primary), 'run doctor again');
  if (!archive) throw new WizardError(`cannot list the WAL archive ${dir}`, where(ctx.primary), `check that ${dir} exists and ${ctx.primary.host.serverUser} may read it`);
  if (!archive.archiveCleanup) {
    throw new WizardError(
      `no pg_archivecleanup on the primary (looked in ${ctx.primary.cluster.binDir}, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin and PATH)`,
      where(ctx.primary),
      'install the package that has it (postgresql-N or postgresql-client-N on Debian/Ubuntu), or clean the archive by hand',
    );
  }
  const need = walNeedOf(row);
  const cleanup = archiveCleanupOf(archive, earlier(keepFrom, need.keepFrom));
  // What pg_archivecleanup itself would remove (-n lists the paths): the plan and the report name exactly that.
  const listed = await ctx.primary.host.run(privileged.archiveCleanup(archive.archiveCleanup, dir, cleanup.keepFrom, true), { as: 'postgres' });
  const names = new Set(listed.split('\n').filter(Boolean).map((path) => path.slice(path.lastIndexOf('/') + 1)));
  return { dir, tool: archive.archiveCleanup, need, cleanup: { ...cleanup, ...removalOf(archive.files.filter((file) => names.has(file.name))) } };
}

const range = (names: readonly string[]) => (names.length === 1 ? names[0] : `${names[0]} to ${names.at(-1)}`);

/**
 * doctor --fix for archive-cleanup: pg_archivecleanup on the primary as the server's OS user,
 * up to `keepFrom`, what the diagnosis showed; when the archive is read again and something
 * now needs older WAL (a standby that connected since), up to that instead, never further.
 */
export function archiveCleanupStep(keepFrom: string): Step {
  return {
    id: 'archive-cleanup',
    title: 'Remove the archived WAL nothing needs any more',
    async check(ctx): Promise<CheckResult> {
      const { dir, cleanup } = await cleanupNow(ctx, keepFrom);
      if (cleanup.removable.length === 0) return { done: true, detail: `${dir} holds nothing older than ${cleanup.keepFrom}` };
      return { done: false, detail: `${dir}: ${cleanup.removable.length} WAL file(s) before ${cleanup.keepFrom} (${formatBytes(cleanup.bytes)})` };
    },
    async plan(ctx): Promise<PlannedAction[]> {
      const { dir, tool, need, cleanup } = await cleanupNow(ctx, keepFrom);
      const names = cleanup.removable.map((file) => file.name);
      return [
        {
          side: 'primary',
          summary: `remove ${names.length} WAL file(s) from the archive ${dir}, ${range(names)} (${formatBytes(cleanup.bytes)}, as pg_archivecleanup -n lists them); it ${keepReason(need, cleanup)}`,
          command: privileged.archiveCleanup(tool, dir, cleanup.keepFrom, false),
        },
      ];
    },
    async apply(ctx) {
      const { dir, tool, cleanup } = await cleanupNow(ctx, keepFrom);
      const command = privileged.archiveCleanup(tool, dir, cleanup.keepFrom, false);
      await ctx.primary.host.run(command, { as: 'postgres' });
      const after = await readArchive(ctx.primary, dir);
      const left = new Set(after?.files.map((file) => file.name));
      const removed = cleanup.removable.filter((file) => !left.has(file.name));
      if (removed.length === 0) return `removed nothing from ${dir}`;
      const names = range(removed.map((file) => file.name));
      ctx.recordChange({ side: 'primary', what: `removed ${removed.length} WAL file(s) from the archive ${dir}, ${names}` });
      const freed = formatBytes(totalBytes(removed));
      return `ran ${commandLine(command)}: removed ${removed.length} WAL file(s), ${names}, ${freed} freed${after ? ` (${formatBytes(after.freeBytes)} free now on the archive's filesystem)` : ''}; kept ${cleanup.keepFrom} and all later files`;
    },
    async verify(ctx) {
      const { dir, cleanup } = await cleanupNow(ctx, keepFrom);
      if (cleanup.removable.length > 0) {
        throw new WizardError(`${dir} still holds ${range(cleanup.removable.map((file) => file.name))}, older than ${cleanup.keepFrom}`, where(ctx.primary), `check that ${ctx.primary.host.serverUser} may remove files in ${dir}`);
      }
      return `${dir} holds nothing older than ${cleanup.keepFrom}`;
    },
  };
}
