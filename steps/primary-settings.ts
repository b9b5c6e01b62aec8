import { isIPv4, isIPv6 } from 'node:net';
import * as privileged from '../src/remote/commands.js';
import { SudoRefusedMidRun, WizardError } from '../src/errors.js';
import { commandLine } from '../src/remote/quote.js';
import { archiveCommand, archiveCommandFits, archivePlacementNote } from './lib/wal-archive.js';
import { where, type CheckResult, type PlannedAction, type SetupSettings, type Step, type StepContext } from './contract.js';
import type { AutoConfEntry } from '../src/facts/auto-conf.js';
import { alterSystem, alterSystemAction, autoConfPath, manualControl } from './lib/alter-system.js';
import { directoryUser } from './lib/privilege.js';
import { query, reloadAndWait } from './lib/live-server.js';
import { sayingWhatIsLeft } from './lib/cut-short.js';
import { controlServer, serverControlCommand, startGoesOn } from './lib/server-control.js';
import { byHandLine } from '../src/remote/host.js';

/**
 * wal_level, max_wal_senders, max_replication_slots, listen_addresses and (with --archive-dir)
 * archiving, set with ALTER SYSTEM: the server validates each value, and postgresql.auto.conf
 * overrides postgresql.conf and its include files, wherever an earlier value came from.
 */

const managed = ['wal_level', 'max_wal_senders', 'max_replication_slots', 'listen_addresses', 'archive_mode', 'archive_command', 'wal_log_hints'] as const;
type Managed = (typeof managed)[number];

export interface Usage {
  walsenders: number;
  slots: number;
}

/** listen_addresses extended to cover `address`, or undefined when it already does. */
export function listenAddressesCovering(current: string, address: string): string | undefined {
  const list = current.split(',').map((item) => item.trim()).filter(Boolean);
  const wildcard = isIPv4(address) ? '0.0.0.0' : isIPv6(address) ? '::' : undefined;
  if (list.some((item) => item === '*' || item === address || item === wildcard)) return undefined;
  return [...list, address].join(',');
}

/** The settings this run manages: archiving only with --archive-dir, wal_log_hints only when asked for. */
const relevant = (settings: SetupSettings): Managed[] =>
  managed.filter((name) => (name === 'wal_log_hints' ? settings.walLogHints === true : settings.archiveDir !== undefined || !name.startsWith('archive')));

const enabled = (value: string) => /^(on|true|yes|1|always)$/i.test(value.trim());

/** Whether a value (effective, or what the files will give) meets what replication needs. */
function satisfies(name: Managed, value: string, usage: Usage, settings: SetupSettings): boolean {
  switch (name) {
    case 'wal_level':
      return ['replica', 'logical'].includes(value.trim().toLowerCase());
    case 'max_wal_senders':
      return Number(value) >= usage.walsenders + 2;
    case 'max_replication_slots':
      return Number(value) >= usage.slots + 2;
    case 'listen_addresses':
      return listenAddressesCovering(value, settings.primaryListenAddress) === undefined;
    case 'archive_mode':
    case 'wal_log_hints':
      return enabled(value);
    case 'archive_command':
      return value === archiveCommand(settings.archiveDir!);
  }
}

export interface SettingValues {
  /** What the server runs with now (pg_settings). */
  effective: string;
  /** What the configuration files will give at the next reload/restart. */
  upcoming: string;
}

/**
 * The ALTER SYSTEM values needed, judged on what the files will give (so settings written by an
 * earlier run that still wait for a restart are not written again). Counts are only raised,
 * never lowered below what is configured or running.
 */
export function requiredChanges(values: Record<Managed, SettingValues>, usage: Usage, settings: SetupSettings): AutoConfEntry[] {
  const wanted = (name: Managed): string => {
    const { effective, upcoming } = values[name];
    switch (name) {
      case 'wal_level':
        return 'replica';
      case 'max_wal_senders':
      case 'max_replication_slots': {
        const inUse = name === 'max_wal_senders' ? usage.walsenders : usage.slots;
        return String(Math.max(inUse + 2, Number(effective) || 0));
      }
      case 'listen_addresses':
        return listenAddressesCovering(upcoming, settings.primaryListenAddress) ?? upcoming;
      case 'archive_mode':
      case 'wal_log_hints':
        return 'on';
      case 'archive_command':
        return archiveCommand(settings.archiveDir!);
    }
  };
  return relevant(settings)
    .filter((name) => !satisfies(name, values[name].upcoming, usage, settings))
    .map((name) => ({ name, value: wanted(name) }));
}

type SettingRow = {
  name: Managed | 'archive_library';
  setting: string;
  context: string;
  pending_restart: boolean;
  source: string;
  boot_val: string | null;
  file_value: string | null;
};

interface State {
  values: Record<Managed, SettingValues>;
  context: Record<Managed, string>;
  pending: Managed[];
  usage: Usage;
  archiveLibrary?: string;
  /** Effective values that do not meet the requirement yet. */
  unmet: Managed[];
  changes: AutoConfEntry[];
  archiveDirReady: boolean;
}

async function readState(ctx: StepContext): Promise<State> {
  const node = ctx.primary;
  // The last pg_file_settings row of a name is the one that wins when the files are read.
  const rows = await query<SettingRow>(
    node,
    `SELECT s.name, s.setting, s.context, s.pending_restart, s.source, s.boot_val,
            (SELECT f.setting FROM pg_file_settings f WHERE lower(f.name) = s.name ORDER BY f.seqno DESC LIMIT 1) AS file_value
       FROM pg_settings s WHERE s.name = ANY($1)`,
    [[...managed, 'archive_library']],
  );
  const [usage] = await query<{ walsenders: number; slots: number }>(
    node,
    `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int AS walsenders,
            (SELECT count(*) FROM pg_replication_slots)::int AS slots`,
  );
  const values = {} as Record<Managed, SettingValues>;
  const context = {} as Record<Managed, string>;
  let archiveLibrary: string | undefined;
  for (const row of rows) {
    if (row.name === 'archive_library') {
      archiveLibrary = row.setting || undefined;
      continue;
    }
    // Without a file entry, a value that came from a file falls back to the built-in default.
    const upcoming = row.file_value ?? (row.source === 'configuration file' ? (row.boot_val ?? '') : row.setting);
    values[row.name] = { effective: row.setting, upcoming };
    context[row.name] = row.context;
  }
  const { settings } = ctx;
  const archiveDirReady = settings.archiveDir === undefined || (await archiveDirState(ctx, settings.archiveDir)) === `${ctx.primary.host.serverUser} 700`;
  return {
    values,
    context,
    pending: relevant(settings).filter((name) => rows.some((row) => row.name === name && row.pending_restart)),
    usage,
    archiveLibrary,
    unmet: relevant(settings).filter((name) => !satisfies(name, values[name].effective, usage, settings)),
    changes: requiredChanges(values, usage, settings),
    archiveDirReady,
  };
}

/**
 * The values the primary runs with once this step has applied: its planned ALTER SYSTEM
 * changes over what its files give. A standby must be raised to them first (PG 12+:
 * max_wal_senders), or it pauses or stops when it replays the primary's restart.
 */
export async function primaryValuesAfter(ctx: StepContext): Promise<Record<string, string>> {
  const state = await readState(ctx);
  return Object.fromEntries(relevant(ctx.settings).map((name) => [name, state.changes.find((change) => change.name === name)?.value ?? state.values[name].upcoming]));
}

async function archiveDirState(ctx: StepContext, dir: string): Promise<string> {
  const result = await ctx.primary.host.exec(privileged.statPath('%U %a', dir), { as: 'postgres' });
  return result.code === 0 ? result.stdout.trim() : 'missing';
}

const archiveDirCommand = (dir: string, owner: string) => privileged.makeServerDirectory(owner, dir);

function checkArchiveSettings(ctx: StepContext, state: State): void {
  const dir = ctx.settings.archiveDir;
  if (dir === undefined) return;
  if (!dir.startsWith('/')) {
    throw new WizardError(`--archive-dir "${dir}" is not an absolute path`, where(ctx.primary), 'pass the archive directory on the primary as an absolute path, e.g. --archive-dir /var/lib/postgresql/wal-archive');
  }
  if (!archiveCommandFits(dir)) {
    throw new WizardError(`--archive-dir "${dir}" is too long for archive_command`, where(ctx.primary), 'PostgreSQL up to 15 cuts an archive_command longer than 1023 bytes: choose a shorter path (a symbolic link to the directory will do)');
  }
  if (state.archiveLibrary) {
    throw new WizardError(
      `archive_library is set to "${state.archiveLibrary}", so PostgreSQL would not use the archive_command for --archive-dir`,
      where(ctx.primary),
      'keep archiving with that library and run without --archive-dir, or clear it (ALTER SYSTEM RESET archive_library, and remove it from postgresql.conf) and run again',
    );
  }
}

/** Restart is needed for postmaster-context settings whose value would change. */
function restartNames(state: State, settings: SetupSettings): Managed[] {
  const normalize = (value: string) => value.toLowerCase().split(',').map((item) => item.trim()).join(',');
  const after = (name: Managed) => state.changes.find((change) => change.name === name)?.value ?? state.values[name].upcoming;
  return relevant(settings).filter((name) => state.context[name] === 'postmaster' && normalize(after(name)) !== normalize(state.values[name].effective));
}

function restartAction(ctx: StepContext, names: readonly string[]): PlannedAction {
  return {
    side: 'primary',
    summary: `restart the ${ctx.primary.host.role} so ${names.join(', ')} take${names.length === 1 ? 's' : ''} effect (open connections are dropped; clients must reconnect)`,
    command: serverControlCommand(ctx.primary.cluster, 'restart'),
    destructive: 'restart-primary',
  };
}

const effectiveSummary = (ctx: StepContext, state: State) =>
  relevant(ctx.settings)
    .map((name) => `${name}=${state.values[name].effective || "''"}`)
    .join(', ');

const writeSettings = (ctx: StepContext, changes: readonly AutoConfEntry[]) => alterSystem(ctx.primary, changes, ctx.recordChange, 'restart');

/** The command an operator types to see whether the primary runs. */
function manualStatus(ctx: StepContext): string {
  const { cluster } = ctx.primary;
  return cluster.manager === 'pg_ctlcluster' ? `pg_lsclusters ${cluster.id.replace('/', ' ')}` : commandLine([`${cluster.binDir}/pg_ctl`, 'status', '-D', cluster.dataDirectory]);
}

/** The command an operator types to restart the primary themselves. */
const manualRestart = (ctx: StepContext) => manualControl(ctx.primary, 'restart');

export const primarySettingsStep: Step = {
  id: 'primary-settings',
  title: 'Replication settings on the primary',
  upstreamTitle: 'Replication settings on the upstream',

  async check(ctx): Promise<CheckResult> {
    const state = await readState(ctx);
    const summary = effectiveSummary(ctx, state);
    const problems = [
      ...state.unmet.map((name) => `${name} is ${state.values[name].effective || "''"}`),
      ...state.pending.map((name) => `${name} waits for a restart`),
      ...(state.archiveDirReady ? [] : [`archive directory ${ctx.settings.archiveDir} is not ready (${ctx.primary.host.serverUser}, 0700)`]),
    ];
    return problems.length === 0 ? { done: true, detail: summary } : { done: false, detail: problems.join('; ') };
  },

  async plan(ctx): Promise<PlannedAction[]> {
    const state = await readState(ctx);
    checkArchiveSettings(ctx, state);
    const actions: PlannedAction[] = [];
    const dir = ctx.settings.archiveDir;
    if (dir !== undefined) ctx.note(archivePlacementNote(dir, ctx.settings.standbyArchiveDir));
    if (dir !== undefined && !state.archiveDirReady) {
      const owner = ctx.primary.host.serverUser;
      actions.push({ side: 'primary', summary: `create the WAL archive directory ${dir} (owner ${owner}, mode 0700)`, command: archiveDirCommand(dir, owner) });
    }
    if (state.changes.length > 0) {
      actions.push(await alterSystemAction(ctx.primary, state.changes));
      actions.push({ side: 'primary', summary: 'reload the configuration', sql: 'SELECT pg_reload_conf();' });
    }
    const restart = restartNames(state, ctx.settings);
    if (restart.length > 0) actions.push(restartAction(ctx, restart));
    return actions;
  },

  async apply(ctx): Promise<string> {
    const state = await readState(ctx);
    checkArchiveSettings(ctx, state);
    const done: string[] = [];
    const dir = ctx.settings.archiveDir;
    if (dir !== undefined && !state.archiveDirReady) {
      const existed = (await archiveDirState(ctx, dir)) !== 'missing';
      const as = await directoryUser(ctx.primary.host, [dir]);
      await ctx.primary.host.run(archiveDirCommand(dir, ctx.primary.host.serverUser), { as });
      ctx.recordChange({ side: 'primary', what: `${existed ? `set owner ${ctx.primary.host.serverUser}, mode 0700 on` : 'created'} WAL archive directory ${dir}`, undo: existed ? undefined : byHandLine(ctx.primary.host, as, ['rmdir', '--', dir]) });
      done.push(`archive directory ${dir} ready`);
    }
    if (state.changes.length > 0) {
      await writeSettings(ctx, state.changes);
      done.push(`set ${state.changes.map((change) => `${change.name}=${change.value}`).join(', ')}`);
    }
    await reloadAndWait(ctx.primary);
    const pending = (await readState(ctx)).pending;
    if (pending.length > 0) {
      const action = restartAction(ctx, pending);
      if (!(await ctx.confirm(action))) {
        throw new WizardError(
          `the settings are written to ${autoConfPath(ctx.primary)}, but ${pending.join(', ')} only take effect after a restart of the primary`,
          where(ctx.primary),
          `restart it when convenient (${manualRestart(ctx)}) and run again, or run again with --restart-primary to let the wizard restart it`,
        );
      }
      ctx.note(`restarting the primary for ${pending.join(', ')}`);
      await sayingWhatIsLeft(
        () => controlServer(ctx.primary, 'restart'),
        (cut) =>
          cut instanceof SudoRefusedMidRun
            ? `The primary was not restarted: it runs as before, with ${pending.join(', ')} written to ${autoConfPath(ctx.primary)} and waiting for a restart; the standby was not changed by this step`
            : `The primary was being restarted for ${pending.join(', ')} (already written to ${autoConfPath(ctx.primary)}): ${startGoesOn}, so it may be starting or up now; ` +
              `if its stop had not finished, it may be down: look with ${manualStatus(ctx)} and start it if it is down; the standby was not changed by this step`,
      );
      done.push('restarted the primary');
    }
    return done.length > 0 ? done.join('; ') : 'reloaded the configuration';
  },

  async verify(ctx): Promise<string> {
    const state = await readState(ctx);
    const problems = [
      ...state.unmet.map((name) => `${name} is ${state.values[name].effective || "''"}`),
      ...state.pending.map((name) => `${name} still waits for a restart`),
    ];
    if (problems.length > 0) {
      throw new WizardError(
        `the primary does not run with the replication settings: ${problems.join('; ')}`,
        where(ctx.primary),
        `look for a later entry overriding them (SELECT * FROM pg_file_settings) or a command-line option, and restart the primary (${manualRestart(ctx)})`,
      );
    }
    return `pg_settings: ${effectiveSummary(ctx, state)}, nothing pending a restart`;
  },
};
