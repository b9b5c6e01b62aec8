import * as privileged from '../remote/commands.js';
import { byHandLine } from '../remote/host.js';
import { WizardError } from '../errors.js';
import { where, type CheckResult, type Node, type PlannedAction, type Step, type StepContext } from '../../steps/contract.js';
import { storePassword } from '../../steps/clone-standby.js';
import { afterAlterSystem, parseAutoConf, type AutoConfEntry } from '../facts/auto-conf.js';
import { passwordStored } from '../../steps/lib/clone-prechecks.js';
import { runningAddress, settingsFromFiles } from '../facts/live.js';
import { rewriteConfigFile, timestampSuffix, unifiedDiff } from '../../steps/lib/config-files.js';
import { query } from '../../steps/lib/live-server.js';
import { pollUntil } from '../../steps/lib/poll.js';
import { controlServer, isRunning, serverControlCommand } from '../../steps/lib/server-control.js';
import { hotStandbyMinimums, settingsToRaise } from '../../steps/lib/standby-config.js';
import { primaryValuesAfter } from '../../steps/primary-settings.js';

/**
 * Repairs no setup step makes: they follow the same Step contract and run through the same
 * runner, next to the setup steps doctor reuses.
 */

/** The standby's passfile holds the password the repairs set (the walreceiver reads it). */
export const passfileStep: Step = {
  id: 'standby-passfile',
  title: "Replication password in the standby's passfile",
  async check(ctx) {
    const { stored } = await passwordStored(ctx);
    return { done: stored, detail: `${ctx.settings.passfile} ${stored ? 'holds' : 'does not hold'} the password for ${ctx.settings.primaryAddress}:${ctx.primary.cluster.port}:replication:${ctx.settings.roleName}` };
  },
  async plan(ctx) {
    return [{ side: 'standby', summary: `store the replication password in ${ctx.settings.passfile} (owner ${ctx.standby.host.serverUser}, mode 0600; the content goes through stdin)` }];
  },
  async apply(ctx) {
    await storePassword(ctx);
    return `stored the password in ${ctx.settings.passfile}`;
  },
  async verify(ctx) {
    if (!(await passwordStored(ctx)).stored) throw new WizardError(`${ctx.settings.passfile} still does not hold the password`, where(ctx.standby), 'check whether something else rewrites the file, then run again');
    return `${ctx.settings.passfile} holds the password`;
  },
};

/** Starts a stopped primary and waits until it answers SQL. */
export const startPrimaryStep: Step = {
  id: 'start-primary',
  title: 'Start the primary',
  async check(ctx) {
    const running = await isRunning(ctx.primary.host, ctx.primary.cluster);
    return { done: running, detail: `${ctx.primary.cluster.id} is ${running ? '' : 'not '}running` };
  },
  async plan(ctx) {
    return [{ side: 'primary', summary: `start the primary's cluster ${ctx.primary.cluster.id}`, command: serverControlCommand(ctx.primary.cluster, 'start') }];
  },
  async apply(ctx) {
    await controlServer(ctx.primary, 'start');
    return `started ${ctx.primary.cluster.id}`;
  },
  async verify(ctx) {
    await query(ctx.primary, 'SELECT 1');
    return `${ctx.primary.cluster.id} answers`;
  },
};

const walLevelNames = ['wal_level', 'max_wal_senders'];

/** What a primary that cannot start needs in postgresql.auto.conf, from what its files give now. */
async function walLevelChanges(node: Node): Promise<AutoConfEntry[]> {
  const current = await settingsFromFiles(node, walLevelNames);
  return [
    ...(['replica', 'logical'].includes(current.wal_level ?? '') ? [] : [{ name: 'wal_level', value: 'replica' }]),
    ...(Number(current.max_wal_senders ?? 0) > 0 ? [] : [{ name: 'max_wal_senders', value: '10' }]),
  ];
}

const autoConfPath = (node: Node) => `${node.cluster.dataDirectory}/postgresql.auto.conf`;

/**
 * wal_level = replica written into postgresql.auto.conf directly, as ALTER SYSTEM would
 * write it: a primary that refuses to start with wal_level minimal cannot run ALTER SYSTEM.
 */
export const walLevelInFilesStep: Step = {
  id: 'primary-wal-level-files',
  title: "wal_level in the stopped primary's postgresql.auto.conf",
  async check(ctx) {
    const changes = await walLevelChanges(ctx.primary);
    return { done: changes.length === 0, detail: changes.length === 0 ? 'the files give wal_level replica or logical' : `to set: ${changes.map((c) => `${c.name} = ${c.value}`).join(', ')}` };
  },
  async plan(ctx) {
    if (await runningAddress(ctx.primary)) return [];
    const path = autoConfPath(ctx.primary);
    const current = await ctx.primary.host.readFile(path, 'postgres');
    const changes = await walLevelChanges(ctx.primary);
    return [{ side: 'primary', summary: `set ${changes.map((c) => `${c.name} = ${c.value}`).join(', ')} in ${path} (backed up first; the primary is down, so ALTER SYSTEM cannot)`, diff: unifiedDiff(path, current ?? '', afterAlterSystem(current, changes, ctx.primary.cluster.major)) }];
  },
  async apply(ctx) {
    if (await runningAddress(ctx.primary)) return 'the primary runs: ALTER SYSTEM is used instead (primary settings)';
    const path = autoConfPath(ctx.primary);
    const current = await ctx.primary.host.readFile(path, 'postgres');
    const changes = await walLevelChanges(ctx.primary);
    await rewriteConfigFile(ctx.primary.host, 'primary', path, afterAlterSystem(current, changes, ctx.primary.cluster.major), 'postgres', ctx.recordChange);
    return `set ${changes.map((c) => `${c.name} = ${c.value}`).join(', ')} in ${path}`;
  },
  async verify(ctx) {
    const left = await walLevelChanges(ctx.primary);
    if (left.length > 0) {
      throw new WizardError(`the primary's files still give ${left.map((c) => c.name).join(', ')} the wrong value`, where(ctx.primary), 'a later setting overrides postgresql.auto.conf (a command-line option?); fix it by hand');
    }
    return 'the files give wal_level replica';
  },
};

/**
 * The hot-standby settings the standby's files give lower than the primary runs with, or will
 * run with once the primary's settings step has raised them (this step runs before it), at
 * the primary's values.
 */
async function lowStandbySettings(ctx: StepContext): Promise<AutoConfEntry[]> {
  const { major } = ctx.standby.cluster;
  const names = hotStandbyMinimums(major);
  const [primaryRows, after, standby] = await Promise.all([
    query<{ name: string; setting: string }>(ctx.primary, 'SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [names]),
    primaryValuesAfter(ctx),
    settingsFromFiles(ctx.standby, names),
  ]);
  const primary = Object.fromEntries(primaryRows.map((row) => [row.name, String(Math.max(Number(row.setting), Number(after[row.name] ?? 0)))]));
  return Object.entries(settingsToRaise(major, primary, standby)).map(([name, value]) => ({ name, value }));
}

/**
 * Raises only the standby's settings that must be at least the primary's (a hot standby
 * pauses or stops below them), in its postgresql.auto.conf; the standby is stopped for it
 * and started again by the start step. Its recovery settings are left as they are. It runs
 * before the primary's settings step, to the values that step will give the primary: the
 * standby first, as hot-standby-params says.
 */
export const standbyMinimumsStep: Step = {
  id: 'standby-minimums',
  title: "The standby's settings at least the primary's",
  async check(ctx) {
    const low = await lowStandbySettings(ctx);
    return { done: low.length === 0, detail: low.length === 0 ? "none is lower than the primary's" : `to raise: ${low.map((c) => `${c.name} to ${c.value}`).join(', ')}` };
  },
  async plan(ctx) {
    const { host, cluster } = ctx.standby;
    const path = autoConfPath(ctx.standby);
    const current = await host.readFile(path, 'postgres');
    const low = await lowStandbySettings(ctx);
    return [
      ...((await isRunning(host, cluster)) ? [{ side: 'standby' as const, summary: `stop the standby's cluster ${cluster.id} (it is started again below)`, command: serverControlCommand(cluster, 'stop') }] : []),
      { side: 'standby', summary: `raise ${low.map((c) => c.name).join(', ')} in ${path} (backed up first)`, diff: unifiedDiff(path, current ?? '', afterAlterSystem(current, low, cluster.major)) },
    ];
  },
  async apply(ctx) {
    const { host, cluster } = ctx.standby;
    const low = await lowStandbySettings(ctx);
    if (await isRunning(host, cluster)) await controlServer(ctx.standby, 'stop');
    const path = autoConfPath(ctx.standby);
    await rewriteConfigFile(host, 'standby', path, afterAlterSystem(await host.readFile(path, 'postgres'), low, cluster.major), 'postgres', ctx.recordChange);
    return `raised ${low.map((c) => `${c.name} to ${c.value}`).join(', ')}`;
  },
  async verify(ctx) {
    const low = await lowStandbySettings(ctx);
    if (low.length > 0) throw new WizardError(`the standby's files still give ${low.map((c) => c.name).join(', ')} lower values`, where(ctx.standby), 'a later entry overrides postgresql.auto.conf; check pg_file_settings on the standby');
    return "the standby's files give every hot-standby setting at least the primary's value";
  },
};

interface RecoveryConfConversion {
  path: string;
  text: string;
  autoPath: string;
  autoBefore: string | null;
  autoAfter: string;
  /** standby_mode = on: the server must start as a standby (standby.signal), else recovery.signal. */
  signal: 'standby.signal' | 'recovery.signal';
}

const keptAs = (path: string, suffix: string) => `${path}.pgrepl-backup-${suffix}`;

/** PG 12+: recovery.conf's settings move to postgresql.auto.conf and standby_mode becomes a signal file. */
async function conversion(ctx: StepContext): Promise<RecoveryConfConversion | undefined> {
  const { host, cluster } = ctx.standby;
  const path = `${cluster.dataDirectory}/recovery.conf`;
  const text = await host.readFile(path, 'postgres');
  if (text === null || cluster.major < 12) return undefined;
  const entries = parseAutoConf(text);
  const standbyMode = entries.filter((e) => e.name.toLowerCase() === 'standby_mode').pop();
  const moved = entries.filter((e) => e.name.toLowerCase() !== 'standby_mode');
  const autoPath = `${cluster.dataDirectory}/postgresql.auto.conf`;
  const autoBefore = await host.readFile(autoPath, 'postgres');
  return {
    path,
    text,
    autoPath,
    autoBefore,
    autoAfter: afterAlterSystem(autoBefore, moved, cluster.major),
    signal: /^(on|true|yes|1)$/i.test(standbyMode?.value ?? '') ? 'standby.signal' : 'recovery.signal',
  };
}

export const convertRecoveryConfStep: Step = {
  id: 'convert-recovery-conf',
  title: 'Convert recovery.conf (PostgreSQL 12+ refuses to start with it)',
  async check(ctx): Promise<CheckResult> {
    const found = await conversion(ctx);
    return { done: found === undefined, detail: found ? `${found.path} exists` : 'no recovery.conf' };
  },
  async plan(ctx): Promise<PlannedAction[]> {
    const found = await conversion(ctx);
    if (!found) return [];
    const dir = ctx.standby.cluster.dataDirectory;
    return [
      { side: 'standby', summary: `move the settings of ${found.path} into ${found.autoPath} (backed up first)`, diff: unifiedDiff(found.autoPath, found.autoBefore ?? '', found.autoAfter) },
      { side: 'standby', summary: `create ${dir}/${found.signal} in place of standby_mode` },
      { side: 'standby', summary: `rename ${found.path} so the server starts`, command: ['mv', '--', found.path, keptAs(found.path, '<time>')] },
    ];
  },
  async apply(ctx) {
    const found = await conversion(ctx);
    if (!found) return 'no recovery.conf any more';
    const { host, cluster } = ctx.standby;
    if (await isRunning(host, cluster)) await controlServer(ctx.standby, 'stop');
    await rewriteConfigFile(host, 'standby', found.autoPath, found.autoAfter, 'postgres', ctx.recordChange);
    await host.writeFile(`${cluster.dataDirectory}/${found.signal}`, '', { as: 'postgres', mode: '600' });
    const backup = keptAs(found.path, timestampSuffix());
    await host.run(privileged.movePath(found.path, backup), { as: 'postgres' });
    ctx.recordChange({ side: 'standby', what: `converted ${found.path} into ${found.autoPath} and ${found.signal}`, backup, undo: `${byHandLine(host, 'postgres', ['mv', '--', backup, found.path])} && ${byHandLine(host, 'postgres', ['rm', '--', `${cluster.dataDirectory}/${found.signal}`])}` });
    return `moved recovery.conf's settings into postgresql.auto.conf, created ${found.signal}, recovery.conf kept as ${backup}`;
  },
  async verify(ctx) {
    if (await conversion(ctx)) throw new WizardError('recovery.conf is still there', where(ctx.standby), 'remove it by hand');
    return 'no recovery.conf; its settings are in postgresql.auto.conf';
  },
};

const streamingTimeoutMs = 60_000;

/**
 * The end of a repair on a pair without a slot (verify-streaming proves a slot in use):
 * the standby's WAL receiver streams and the primary sees it.
 */
export const awaitStreamingStep: Step = {
  id: 'await-streaming',
  title: 'Wait until the standby streams',
  async check() {
    return { done: false, detail: 'streaming is checked after every repair' };
  },
  async plan(ctx) {
    return [{ side: 'standby', summary: `wait up to ${streamingTimeoutMs / 1000} s until the standby's WAL receiver streams from ${ctx.settings.primaryAddress}`, sql: receiverSql }];
  },
  async apply(ctx) {
    const streaming = await pollUntil(async () => ((await receiverStatus(ctx)) === 'streaming' ? true : undefined), { timeoutMs: streamingTimeoutMs, intervalMs: 500, signal: ctx.signal });
    if (!streaming) throw new WizardError(`the standby did not stream within ${streamingTimeoutMs / 1000} s (WAL receiver: ${(await receiverStatus(ctx)) ?? 'not running'})`, where(ctx.standby), 'run doctor again to see why');
    return 'the standby streams';
  },
  async verify(ctx) {
    const [sender] = await query<{ state: string }>(ctx.primary, 'SELECT state FROM pg_stat_replication WHERE host(client_addr) = $1', [ctx.settings.standbyAddress]);
    if (sender?.state !== 'streaming') throw new WizardError(`the primary sees no streaming connection from ${ctx.settings.standbyAddress}`, where(ctx.primary), 'run doctor again to see why');
    return `pg_stat_replication on the primary: ${ctx.settings.standbyAddress} streaming`;
  },
};

const receiverSql = 'SELECT status FROM pg_stat_wal_receiver';

async function receiverStatus(ctx: StepContext): Promise<string | undefined> {
  const address = await runningAddress(ctx.standby);
  if (!address) return undefined;
  const [row] = await ctx.standby.host.sql<{ status: string }>(address, receiverSql).catch(() => []);
  return row?.status;
}
