import * as privileged from '../remote/commands.js';
import { WizardError } from '../errors.js';
import { byHandLine } from '../remote/host.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from '../../steps/contract.js';
import { timestampSuffix } from '../../steps/lib/config-files.js';
import { query } from '../../steps/lib/live-server.js';
import { directoryUser } from '../../steps/lib/privilege.js';
import { restoreDirectoryOf } from '../../steps/lib/wal-archive.js';

/**
 * A standby promoted by mistake archives with the archive_command its clone copied from the
 * primary: its new timeline's history file (00000002.history) and WAL land in the archive both
 * share. Once the standby is rewound or cloned again, recovery (recovery_target_timeline =
 * latest) finds that history file through restore_command and follows the stray timeline, and
 * the standby does not start ("requested timeline 2 does not contain minimum recovery point …
 * on timeline 1"). Before it starts, the files of every timeline the primary's history does not
 * contain are moved out of the archive into a dated folder beside it: nothing the primary's
 * timeline needs is touched, and nothing is deleted.
 */

export const setAsideStrayTimelinesId = 'set-aside-stray-timelines';

/** A history file, or a WAL file (segment, partial segment, backup history file): its timeline is its first 8 hex digits. */
const timelineFile = /^([0-9A-F]{8})(?:\.history|[0-9A-F]{16}(?:\.partial|\.[0-9A-F]{8}\.backup)?)$/;

/** The timelines in a timeline history file: each line `parentTLI<tab>switchpoint<tab>reason`, # comments. */
export const historyTimelines = (history: string) => history.split('\n').flatMap((line) => /^\s*(\d+)\s/.exec(line)?.[1] ?? []).map(Number);

/** The archive's files of timelines neither the primary's current one nor in its history file, in name order. */
export function strayTimelineFiles(names: readonly string[], timeline: number, history: string): string[] {
  const kept = new Set([timeline, ...historyTimelines(history)]);
  return names.filter((name) => {
    const hex = timelineFile.exec(name)?.[1];
    return hex !== undefined && !kept.has(parseInt(hex, 16));
  }).sort();
}

/**
 * The primary's timeline from its current WAL file, and that timeline's history file. Not
 * pg_control_checkpoint(): right after a promotion its timeline is the old one until the first
 * checkpoint, and the new primary's own history file would look stray.
 */
const primaryHistorySql = `SELECT w.name, pg_read_file('pg_wal/' || substr(w.name, 1, 8) || '.history', 0, 16777216, true) AS history
                             FROM (SELECT pg_walfile_name(pg_current_wal_lsn()) AS name) w`;

interface Stray {
  dir: string;
  timeline: number;
  files: string[];
}

/** The archive the standby restores from (its restore_command as doctor read it) and what in it strays from the primary's history. */
async function strayNow(ctx: StepContext): Promise<Stray> {
  const dir = restoreDirectoryOf(ctx.settings.keptArchive?.restore_command ?? '')?.replace(/(.)\/+$/, '$1');
  if (dir === undefined) throw new WizardError("the standby's restore_command reads no archive directory this wizard knows", where(ctx.standby), 'run doctor again');
  const primary = ctx.origin ?? ctx.primary;
  const [[row], listing] = await Promise.all([
    query<{ name: string; history: string | null }>(primary, primaryHistorySql).catch((error: unknown) => {
      throw new WizardError(`cannot read the primary's timeline history: ${error instanceof Error ? error.message : String(error)}`, where(primary), 'run doctor again once the primary runs as a primary');
    }),
    ctx.standby.host.exec(privileged.archiveContents(dir), { as: 'postgres' }),
  ]);
  if (listing.code !== 0) throw new WizardError(`cannot list the WAL archive ${dir}`, where(ctx.standby), `check that ${dir} exists and ${ctx.standby.host.serverUser} may read it`);
  const timeline = parseInt(row.name.slice(0, 8), 16);
  const names = listing.stdout.split('\n').filter(Boolean).map((line) => line.split('\t')[0]);
  return { dir, timeline, files: strayTimelineFiles(names, timeline, row.history ?? '') };
}

const timelinesOf = (files: readonly string[]) => [...new Set(files.map((name) => parseInt(name.slice(0, 8), 16)))].join(', ');
const range = (files: readonly string[]) => (files.length === 1 ? files[0] : `${files[0]} … ${files.at(-1)}`);

function moveAction(stray: Stray, folder: string): PlannedAction {
  return {
    side: 'standby',
    summary:
      `Move ${stray.files.length} file(s) of timeline ${timelinesOf(stray.files)} (${range(stray.files)}) out of the WAL archive ${stray.dir} into ${folder}: ` +
      `the standby wrote them while promoted, and they are not on the primary's timeline ${stray.timeline} or its history; left there, the repaired standby's recovery would follow that timeline and not start. Moved, not deleted`,
    command: privileged.moveFilesInto(stray.dir, folder, stray.files),
    destructive: 'move-archive-files',
  };
}

/** The dated folder beside the archive: `<archive>-stray-timelines-<time>`. */
const folderFor = (dir: string, time = timestampSuffix()) => `${dir}-stray-timelines-${time}`;

/**
 * doctor --fix after a rewind or a re-clone, before the standby starts with its restore_command:
 * the stray timelines' files, found in the archive as the standby reads it, move aside.
 */
export const setAsideStrayTimelinesStep: Step = {
  id: setAsideStrayTimelinesId,
  title: "Move the WAL of timelines not on the primary's history out of the archive",

  async check(ctx): Promise<CheckResult> {
    const stray = await strayNow(ctx);
    if (stray.files.length === 0) return { done: true, detail: `${stray.dir} holds no timeline but the primary's (${stray.timeline}) and its history` };
    return { done: false, detail: `${stray.dir}: ${stray.files.length} file(s) of timeline ${timelinesOf(stray.files)}, not on the primary's history` };
  },

  async plan(ctx) {
    const stray = await strayNow(ctx);
    return [moveAction(stray, folderFor(stray.dir, '<time>'))];
  },

  async apply(ctx) {
    const { host } = ctx.standby;
    const stray = await strayNow(ctx);
    const folder = folderFor(stray.dir);
    if (!(await ctx.confirm(moveAction(stray, folder)))) {
      throw new WizardError('stopped before moving files out of the WAL archive', where(ctx.standby), 'run again and confirm moving them (headless: --yes); the repaired standby does not start while they are there');
    }
    await host.run(privileged.makeServerDirectory(host.serverUser, folder), { as: await directoryUser(host, [folder]) });
    const result = await host.exec(privileged.moveFilesInto(stray.dir, folder, stray.files), { as: 'postgres' });
    // The names moved are printed one by one: a move stopped part-way still records what it moved, and how to put it back.
    const moved = result.stdout.split('\n').filter(Boolean);
    const what = `moved ${moved.length} file(s) of timeline ${timelinesOf(moved)} (${range(moved)}) out of the WAL archive ${stray.dir} into ${folder}`;
    // Runnable as printed (paths quoted); moving them back makes a repaired standby follow that timeline again.
    const undo = byHandLine(host, 'postgres', ['find', folder, '-maxdepth', '1', '-type', 'f', '-exec', 'mv', '-n', '-t', stray.dir, '--', '{}', '+']);
    if (moved.length > 0) ctx.recordChange({ side: 'standby', what, backup: folder, undo });
    if (result.code !== 0) {
      const stderr = result.stderr.trim();
      throw new WizardError(
        `moving ${stray.files[moved.length] ?? 'the files'} out of the WAL archive ${stray.dir} into ${folder} failed${stderr ? `: ${stderr}` : ''} (${moved.length} of ${stray.files.length} moved before it)`,
        where(ctx.standby),
        `check that ${host.serverUser} may move files from ${stray.dir} into ${folder}, then run doctor --fix again; what moved is in ${folder}`,
      );
    }
    return what;
  },

  async verify(ctx) {
    const stray = await strayNow(ctx);
    if (stray.files.length > 0) throw new WizardError(`${stray.dir} still holds ${range(stray.files)}, not on the primary's history`, where(ctx.standby), `check that ${ctx.standby.host.serverUser} may move files out of ${stray.dir}`);
    return `${stray.dir} holds only the primary's timeline ${stray.timeline} and its history`;
  },
};
