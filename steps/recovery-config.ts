import { WizardError } from '../src/errors.js';
import * as privileged from '../src/remote/commands.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from './contract.js';
import { afterAlterSystem, autoConfValue, type AutoConfEntry } from '../src/facts/auto-conf.js';
import { sharedWithCheck } from './lib/checked-state.js';
import { runningAddress, servesAsPrimary, settingsFromFiles, systemIdentifier } from '../src/facts/live.js';
import { rewriteConfigFile, unifiedDiff } from './lib/config-files.js';
import { controlServer, serverControlCommand } from './lib/server-control.js';
import { logSettingNames, rememberLogSettings } from '../src/facts/server-log.js';
import {
  hotStandbyMinimums,
  primaryConninfo,
  recoveryConfText,
  recoverySettings,
  settingsToRaise,
  standbyListenAddresses,
} from './lib/standby-config.js';
import { usesStandbySignal } from '../src/facts/replication.js';
import { archiveCommand, archiveDirectoryOf, archiveSettingNames, proveSharedArchive, restoreDirectoryOf, sharedArchiveProof, standbyArchiveSettings } from './lib/wal-archive.js';
import { storePassword } from './clone-standby.js';
import { passwordStored } from './lib/clone-prechecks.js';

/**
 * Step 6: make the cloned data directory start as a streaming standby. PG 12+:
 * standby.signal plus primary_conninfo / primary_slot_name in postgresql.auto.conf;
 * PG ≤ 11: recovery.conf. Also raises the settings a hot standby needs at least as high as
 * the primary's, and gives the standby its own address where the clone brought the
 * primary's listen_addresses. The standby is stopped while its files change.
 */

interface FileEdit {
  path: string;
  before: string | null;
  after: string;
  why: string;
}

/**
 * What the edits are computed from besides the standby's recovery files themselves, read by
 * check() and kept for apply() and verify(): this step changes none of it (its edits go into
 * postgresql.auto.conf, which wins over the values read from the files here).
 */
interface Inputs {
  cloned: boolean;
  /** Whether the standby's cluster ran when check() looked (the clone leaves it stopped). */
  standbyRunning: boolean;
  fromPrimary: Record<string, string>;
  /** The standby's settings as its files set them (`postgres -C`, one process per name, only the names this step needs). */
  fromFiles: Record<string, string>;
  /** restore_command and archive_cleanup_command when the standby reads the archive (--standby-archive-dir). */
  archive: Record<string, string>;
}

interface Desired {
  cloned: boolean;
  edits: FileEdit[];
  inputs: Inputs;
}

async function primaryValues(ctx: StepContext, names: string[]): Promise<Record<string, string>> {
  const address = await runningAddress(ctx.primary);
  if (!address) {
    throw new WizardError(`the primary's cluster ${ctx.primary.cluster.id} is not running`, where(ctx.primary), 'start it and run again');
  }
  const rows = await ctx.primary.host.sql<{ name: string; setting: string }>(address, 'SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [names]);
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}

/**
 * The file edits still needed. Before the clone (a plan), the base is the primary's
 * postgresql.auto.conf, which the clone copies; the values are read again after the clone.
 * With `known` (verify) only the recovery files themselves are read again.
 */
async function desiredConfig(ctx: StepContext, known?: Inputs): Promise<Desired> {
  const { host, cluster } = ctx.standby;
  const { settings } = ctx;
  const dir = cluster.dataDirectory;
  const minimums = hotStandbyMinimums(cluster.major);
  // The slowest read (a postgres process per name), asked first. wal_log_hints matters only when asked for.
  // The archive settings only where a re-clone may have lost ones this run keeps (settings.keptArchive).
  const keptArchive = Object.keys(settings.keptArchive ?? {}).length > 0;
  const fileNames = [...minimums, 'hot_standby', ...(settings.walLogHints ? ['wal_log_hints'] : []), ...logSettingNames, ...(keptArchive && usesStandbySignal(cluster.major) ? archiveSettingNames : [])];
  const filesRead = known?.fromFiles ?? settingsFromFiles(ctx.standby, fileNames);
  // Awaited below; a failure of the identifiers' read must not leave it unheard.
  Promise.resolve(filesRead).catch(() => undefined);
  const [primaryId, standbyId] = known ? [] : await Promise.all([systemIdentifier(ctx.primary), systemIdentifier(ctx.standby)]);
  const cloned = known?.cloned ?? (standbyId !== undefined && standbyId === primaryId);
  // systemIdentifier() just asked whether the standby runs, and noted where it listens.
  const standbyRunning = known?.standbyRunning ?? ctx.standby.address !== undefined;
  const autoPath = `${dir}/postgresql.auto.conf`;
  const signal = `${dir}/standby.signal`;
  // Independent reads, asked together.
  const archiveDir = settings.standbyArchiveDir;
  const [autoBefore, fromPrimary, fromFiles, signalExists, archive] = await Promise.all([
    cloned ? host.readFile(autoPath, 'postgres') : ctx.primary.host.readFile(`${ctx.primary.cluster.dataDirectory}/postgresql.auto.conf`, 'postgres'),
    known?.fromPrimary ?? primaryValues(ctx, minimums),
    filesRead,
    cloned && usesStandbySignal(cluster.major) ? host.exec(privileged.pathExists(signal), { as: 'postgres' }).then((result) => result.code === 0) : false,
    known?.archive ?? (archiveDir === undefined ? {} : standbyArchiveSettings(ctx.standby, archiveDir)),
  ]);
  // The start that follows looks at the logs these name; this step does not change them.
  if (cloned && !known) rememberLogSettings(ctx.standby, fromFiles);
  const autoText = autoBefore ?? '';
  const unread = minimums.filter((name) => fromFiles[name] === undefined);
  if (unread.length > 0) {
    throw new WizardError(
      `cannot read ${unread.join(', ')} from the standby's configuration files (postgres -C failed)`,
      where(ctx.standby),
      `run ${cluster.binDir}/postgres -D ${dir} -C max_connections as ${ctx.standby.host.serverUser} on the standby to see why`,
    );
  }
  // postgresql.auto.conf wins over postgresql.conf; before the clone it is not in place yet.
  const effective = (name: string) => autoConfValue(autoText, name) ?? fromFiles[name];
  const changes: AutoConfEntry[] = Object.entries(
    settingsToRaise(cluster.major, fromPrimary, Object.fromEntries(minimums.map((name) => [name, effective(name)]))),
  ).map(([name, value]) => ({ name, value }));
  if (!/^(on|true|yes|1)$/i.test(effective('hot_standby') ?? '')) changes.push({ name: 'hot_standby', value: 'on' });
  // --wal-log-hints: a standby that was not cloned in this run has not got it from the primary.
  if (settings.walLogHints && !/^(on|true|yes|1)$/i.test(effective('wal_log_hints') ?? '')) changes.push({ name: 'wal_log_hints', value: 'on' });
  const listen = standbyListenAddresses(autoConfValue(autoText, 'listen_addresses'), settings.primaryListenAddress, settings.standbyAddress);
  if (listen) changes.push({ name: 'listen_addresses', value: listen });
  // The clone copies the primary's archive_command; promoted one day, the standby archives into the archive
  // as it mounts it: --standby-archive-dir, or on a repair the directory its own restore_command read.
  const ownArchive = archiveDir ?? restoreDirectoryOf(settings.keptArchive?.restore_command ?? '');
  const archivesInto = archiveDirectoryOf(autoConfValue(autoText, 'archive_command') ?? '');
  if (ownArchive !== undefined && archivesInto !== undefined && archivesInto !== ownArchive) changes.push({ name: 'archive_command', value: archiveCommand(ownArchive) });

  const recoveryPath = `${dir}/recovery.conf`;
  const recoveryBefore = cloned && !usesStandbySignal(cluster.major) ? await host.readFile(recoveryPath, 'postgres') : null;
  // The standby's own archive settings, where a re-clone lost them (not set anywhere now).
  const setNow = (name: string) => (usesStandbySignal(cluster.major) ? effective(name) : autoConfValue(recoveryBefore ?? '', name));
  const kept = Object.fromEntries(Object.entries(settings.keptArchive ?? {}).filter(([name]) => !setNow(name)));
  const conninfoText = primaryConninfo(settings, ctx.primary.cluster.port);
  const recovery = recoverySettings(cluster.major, conninfoText, settings.slotName, { ...kept, ...archive });
  const edits: FileEdit[] = [];
  if (usesStandbySignal(cluster.major)) {
    for (const [name, value] of Object.entries(recovery)) {
      if (autoConfValue(autoText, name) !== value) changes.push({ name, value });
    }
  }
  if (changes.length > 0) {
    edits.push({ path: autoPath, before: autoBefore, after: afterAlterSystem(autoBefore, changes, cluster.major), why: `set ${changes.map((c) => c.name).join(', ')}` });
  }
  if (usesStandbySignal(cluster.major)) {
    if (!signalExists) {
      edits.push({ path: signal, before: null, after: '', why: 'start in standby mode' });
    }
  } else {
    const before = recoveryBefore;
    const differing = Object.keys(recovery).filter((name) => before === null || autoConfValue(before, name) !== recovery[name]);
    if (differing.length > 0) {
      const why = before === null ? 'start as a standby of the primary' : `set ${differing.join(', ')}; its other lines kept`;
      edits.push({ path: recoveryPath, before, after: recoveryConfText(recovery, before), why });
    }
  }
  return { cloned, edits, inputs: { cloned, standbyRunning, fromPrimary, fromFiles, archive } };
}

const desired = sharedWithCheck((ctx) => desiredConfig(ctx));

/** What sslmode=require (a primary with ssl = on, no CA named) does and does not protect against. */
const requireNote =
  "TLS: the primary has ssl = on and no CA was named (--ssl-root-cert), so primary_conninfo uses sslmode=require: replication is encrypted (nobody on the network reads or alters it), but the standby does not check the primary's certificate, so a machine that answers in the primary's place is not detected; name the CA that signed the primary's certificate with --ssl-root-cert for sslmode=verify-full";

export const recoveryConfigStep: Step = {
  id: 'recovery-config',
  title: 'Configure the standby to follow the primary',
  upstreamTitle: 'Configure the standby to follow the upstream',

  async check(ctx): Promise<CheckResult> {
    const { cloned, edits } = await desired.forCheck(ctx);
    if (!cloned) return { done: false, detail: 'the standby is not a copy of the primary yet; its recovery settings are written after the clone' };
    if (edits.length === 0) return { done: true, detail: `the standby's recovery settings already point at ${ctx.settings.primaryAddress} with slot ${ctx.settings.slotName}` };
    return { done: false, detail: `to change: ${edits.map((e) => e.path).join(', ')}` };
  },

  async plan(ctx) {
    const { cloned, edits } = await desired.afterCheck(ctx);
    const actions: PlannedAction[] = [];
    if (!cloned) ctx.note("recovery-config: the diffs below start from the primary's postgresql.auto.conf, which the clone copies; they are computed again after the clone");
    if (ctx.settings.tls?.sslmode === 'require') ctx.note(requireNote);
    const { archiveDir, standbyArchiveDir } = ctx.settings;
    if (archiveDir !== undefined && standbyArchiveDir !== undefined && edits.length > 0) {
      actions.push({ side: 'standby', summary: sharedArchiveProof(archiveDir, standbyArchiveDir) });
    }
    // A copy already (no clone to store it) pointed at another server: its passfile needs that server's line.
    if (cloned && edits.length > 0 && !(await passwordStored(ctx)).stored) {
      actions.push({ side: 'standby', summary: `Store the password for ${ctx.settings.primaryAddress}:${ctx.primary.cluster.port}:replication:${ctx.settings.roleName} in ${ctx.settings.passfile} (mode 0600, content through stdin): primary_conninfo names that server` });
    }
    if (cloned && (await runningAddress(ctx.standby))) {
      actions.push({ side: 'standby', summary: `Stop the standby's cluster ${ctx.standby.cluster.id} while its configuration changes`, command: serverControlCommand(ctx.standby.cluster, 'stop') });
    }
    for (const edit of edits) {
      actions.push({ side: 'standby', summary: `${edit.before === null ? 'Create' : 'Edit'} ${edit.path}: ${edit.why}`, diff: unifiedDiff(edit.path, edit.before ?? '', edit.after) });
    }
    return actions;
  },

  async apply(ctx) {
    const { host, cluster } = ctx.standby;
    const { cloned, edits, inputs } = await desired.afterCheck(ctx);
    if (!cloned) {
      throw new WizardError(`${cluster.dataDirectory} is not a copy of the primary`, where(ctx.standby), 'run the clone step first (setup runs it before this one)');
    }
    const { archiveDir, standbyArchiveDir } = ctx.settings;
    if (archiveDir !== undefined && standbyArchiveDir !== undefined && edits.length > 0) {
      await proveSharedArchive(ctx.primary, ctx.standby, archiveDir, standbyArchiveDir);
    }
    const address = inputs.standbyRunning ? await runningAddress(ctx.standby) : undefined;
    if (address) {
      const reason = await servesAsPrimary(ctx.standby, address);
      if (reason) throw new WizardError(`${reason}: it is somebody's primary`, where(ctx.standby), 'choose another cluster with --standby-cluster');
      ctx.note(`stopping the standby's cluster ${cluster.id} while its configuration changes`);
      await controlServer(ctx.standby, 'stop');
    }
    if (edits.length > 0) await storePassword(ctx);
    for (const edit of edits) await rewriteConfigFile(host, 'standby', edit.path, edit.after, 'postgres', ctx.recordChange, edit.before !== null);
    return edits.map((edit) => `${edit.path}: ${edit.why}`).join('; ');
  },

  async verify(ctx) {
    // The files this step wrote, read back; what it did not write was read moments ago by check().
    const { edits } = await desiredConfig(ctx, (await desired.checked(ctx))?.inputs);
    if (edits.length > 0) {
      throw new WizardError(
        `the standby's recovery settings are still not as written: ${edits.map((e) => `${e.path} (${e.why})`).join(', ')}`,
        where(ctx.standby),
        'check whether something else rewrites these files (a config management tool), then run again',
      );
    }
    const signal = usesStandbySignal(ctx.standby.cluster.major) ? 'standby.signal present' : 'recovery.conf in place';
    const archive = ctx.settings.standbyArchiveDir === undefined ? '' : `; restore_command and archive_cleanup_command read ${ctx.settings.standbyArchiveDir}`;
    return `${signal}; primary_conninfo = ${primaryConninfo(ctx.settings, ctx.primary.cluster.port)}; primary_slot_name = ${ctx.settings.slotName}${archive}`;
  },
};
