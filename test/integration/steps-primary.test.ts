import { applyPatch } from 'diff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNode, type ChangeRecord, type PlannedAction, type Step, type StepContext } from '../../steps/contract.js';
import { pgHbaStep } from '../../steps/pg-hba.js';
import { primarySettingsStep } from '../../steps/primary-settings.js';
import { replicationRoleStep } from '../../steps/replication-role.js';
import { replicationSlotStep } from '../../steps/replication-slot.js';
import { WizardError } from '../../src/errors.js';
import { terminalIo } from '../../src/io.js';
import { parseOptions, passwordEnv } from '../../src/options.js';
import { resolveSettings } from '../../src/setup/prepare.js';
import { runSteps, type StepResult } from '../../src/setup/runner.js';
import { connectPair, discoverPair, type Pair } from '../../src/session.js';
import { inHost, lab, labReset, psqlIn } from './lab.js';

const primarySteps: readonly Step[] = [replicationRoleStep, primarySettingsStep, pgHbaStep, replicationSlotStep];
// Quotes, a backslash, a colon and a non-ASCII letter: every layer of escaping gets exercised.
const password = `it's a p\u00e4ss\\word:42`;
const hbaFile = '/etc/postgresql/15/prod/pg_hba.conf';
const autoConf = '/var/lib/postgresql/15/prod/postgresql.auto.conf';
const primaryLog = '/var/log/postgresql/postgresql-15-prod.log';

/** What an operator notices first: can the standby host open a replication connection with the password? */
function replicationConnection(secret = password) {
  try {
    const out = inHost('standby', ['psql', '-X', '-At', `host=${lab.primaryIp} port=5433 user=repl dbname=replication replication=true`, '-c', 'IDENTIFY_SYSTEM'], { PGPASSWORD: secret });
    return { ok: true, output: out };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
  }
}

/** Each step's check(), one after another (the steps share one session per host). */
async function checkAll(ctx: StepContext) {
  const results = [];
  for (const step of primarySteps) results.push(await step.check(ctx));
  return results;
}

/** Everything plan() and check() must leave alone on the primary. */
const primarySnapshot = () => ({
  files: inHost('primary', ['sha256sum', hbaFile, autoConf]),
  roles: psqlIn('primary', 'SELECT string_agg(rolname || coalesce(rolpassword, \'\'), \',\' ORDER BY rolname) FROM pg_authid'),
  slots: psqlIn('primary', 'SELECT count(*) FROM pg_replication_slots'),
  startedAt: psqlIn('primary', 'SELECT pg_postmaster_start_time()'),
});

describe('primary-side steps against the lab', () => {
  let pair: Pair;
  let slot: string;
  let context: (confirm: (action: PlannedAction) => Promise<boolean>, secret?: string) => StepContext;
  const changes: ChangeRecord[] = [];
  const run = (ctx: StepContext, steps = primarySteps) => runSteps(steps, () => ctx, { planOnly: false, emit: () => undefined });
  const statuses = (results: StepResult[]) => Object.fromEntries(results.map((r) => [r.id, r.error ? `${r.status}: ${r.error.message}` : r.status]));

  beforeAll(async () => {
    labReset();
    // Every statement our sessions send is logged: proves below what reached the server.
    psqlIn('primary', "ALTER ROLE postgres SET log_statement = 'all'");
    // The password arrives the way PGREPL_PASSWORD does: through the options.
    const options = await parseOptions(['setup', '--config', lab.config], { ...process.env, [passwordEnv]: password });
    const io = terminalIo();
    pair = await connectPair(options, io);
    const facts = await discoverPair(pair, options, io);
    const settings = await resolveSettings(pair, facts, options, io);
    slot = settings.slotName;
    const [primary, standby] = [toNode(pair.primary, facts.primary), toNode(pair.standby, facts.standby)];
    context = (confirm, secret = password) => ({
      primary,
      standby,
      settings: { ...settings, password: secret },
      signal: new AbortController().signal,
      confirm,
      progress: () => undefined,
      note: () => undefined,
      recordChange: (change) => changes.push(change),
    });
  });

  afterAll(async () => {
    await pair?.close();
  });

  it('plans every change without touching the primary, and shows no password', async () => {
    const before = primarySnapshot();
    const ctx = context(async () => true);
    expect((await checkAll(ctx)).map((c) => c.done)).toEqual([false, false, false, false]);
    const plans = (await runSteps(primarySteps, () => ctx, { planOnly: true, emit: () => undefined })).flatMap((r) => r.actions ?? []);
    expect(primarySnapshot()).toEqual(before);

    const text = JSON.stringify(plans);
    expect(text).not.toContain(password);
    expect(plans.find((a) => a.sql?.startsWith('CREATE ROLE'))?.sql).toBe(`CREATE ROLE "repl" WITH LOGIN REPLICATION PASSWORD '<SCRAM verifier, computed locally>'`);
    expect(plans.find((a) => a.diff?.includes('postgresql.auto.conf'))?.diff).toContain(`+listen_addresses = 'localhost,${lab.primaryIp}'`);
    expect(plans.find((a) => a.destructive === 'restart-primary')?.command).toEqual(['pg_ctlcluster', '-m', 'fast', '15', 'prod', 'restart']);
    expect(plans.find((a) => a.diff?.includes('pg_hba.conf'))?.diff).toMatch(new RegExp(`^\\+host\\s+replication\\s+repl\\s+${lab.standbyIp.replaceAll('.', '\\.')}/32\\s+scram-sha-256\\s+# pgrepl-wizard: `, 'm'));
    expect(replicationConnection().ok).toBe(false);
  });

  it('stops before restarting the primary when that is declined, with the command to do it later', async () => {
    const declined = await run(context(async () => false), [replicationRoleStep, primarySettingsStep]);
    expect(statuses(declined)['replication-role']).toBe('done');
    const failure = declined[1].error!;
    expect(failure.message).toMatch(/listen_addresses.* only take effect after a restart/);
    expect(failure.fix).toContain('sudo -u postgres pg_ctlcluster -m fast 15 prod restart'); // as the lab's non-systemd cluster is run
    expect(failure.fix).toContain('--restart-primary');
    // Written and loaded, but not in effect: the file has it, the server waits for the restart.
    expect(inHost('primary', ['cat', autoConf])).toContain(`listen_addresses = 'localhost,${lab.primaryIp}'`);
    expect(psqlIn('primary', "SELECT pending_restart FROM pg_settings WHERE name = 'listen_addresses'")).toBe('t');
    expect((await primarySettingsStep.check(context(async () => true))).detail).toContain('listen_addresses waits for a restart');
  });

  it('sets up role, settings, pg_hba and slot so the standby host can open a replication connection', async () => {
    const startedAt = psqlIn('primary', 'SELECT pg_postmaster_start_time()');
    const confirmed: PlannedAction[] = [];
    const results = await run(context(async (action) => (confirmed.push(action), true)));
    expect(statuses(results)).toEqual({ 'replication-role': 'already-done', 'primary-settings': 'done', 'pg-hba': 'done', 'replication-slot': 'done' });
    expect(confirmed.map((a) => a.destructive)).toEqual(['restart-primary']);
    expect(psqlIn('primary', 'SELECT pg_postmaster_start_time()')).not.toBe(startedAt);
    expect(psqlIn('primary', 'SHOW listen_addresses')).toBe(`localhost,${lab.primaryIp}`);

    const connection = replicationConnection();
    expect(connection.output).toMatch(/^\d+\|1\|[0-9A-F]+\/[0-9A-F]+\|$/m); // systemid|timeline|xlogpos|dbname
    expect(connection.ok).toBe(true);
    expect(replicationConnection('wrong password').output).toContain('password authentication failed for user "repl"');
  });

  it('sent the server a SCRAM verifier, never the password', () => {
    const log = inHost('primary', ['cat', primaryLog]);
    expect(log).toMatch(/CREATE ROLE "repl" WITH LOGIN REPLICATION PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(log).not.toContain('p\u00e4ss');
  });

  it('keeps WAL for the standby in a physical slot', () => {
    expect(psqlIn('primary', `SELECT slot_type, restart_lsn IS NOT NULL, wal_status FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toBe('physical|t|reserved');
  });

  it('finds everything done on a second run, with one pg_hba line for the standby and the original backed up', async () => {
    const ctx = context(async () => true);
    expect((await checkAll(ctx)).map((c) => c.done)).toEqual([true, true, true, true]);
    expect(statuses(await run(ctx))).toEqual({ 'replication-role': 'already-done', 'primary-settings': 'already-done', 'pg-hba': 'already-done', 'replication-slot': 'already-done' });
    expect(await pgHbaStep.apply(ctx)).toContain('already lets the standby in');

    const hba = inHost('primary', ['cat', hbaFile]);
    expect(hba.split('\n').filter((line) => line.includes(lab.standbyIp))).toHaveLength(1);
    const hbaBackup = changes.find((c) => c.what === `rewrote ${hbaFile}`)!.backup!;
    expect(inHost('primary', ['cat', hbaBackup])).not.toContain(lab.standbyIp);
    expect(inHost('primary', ['stat', '-c', '%U %a', hbaFile, hbaBackup])).toBe('postgres 640\npostgres 640\n');
  });

  it('puts its line back in front when a rule added above it would reject the standby', async () => {
    // An operator adds a reject rule at the top (line 1) later on.
    inHost('primary', ['sed', '-i', `1i host replication all ${lab.standbyIp}/32 reject`, hbaFile]);
    psqlIn('primary', 'SELECT pg_reload_conf()');
    const ctx = context(async () => true);
    expect((await pgHbaStep.check(ctx)).detail).toContain(`first matches line 1 (host replication all ${lab.standbyIp}/255.255.255.255 reject)`);
    expect(statuses(await run(ctx, [pgHbaStep]))).toEqual({ 'pg-hba': 'done' });
    const lines = inHost('primary', ['cat', hbaFile]).split('\n');
    expect(lines.filter((line) => line.includes('# pgrepl-wizard: '))).toHaveLength(1);
    expect(lines[0]).toContain(`# pgrepl-wizard: ${slot}`);
    expect(lines[1]).toMatch(/reject$/);
    expect(replicationConnection().ok).toBe(true);
  });

  it('replaces a different password when the operator gives a new one, and says so in the plan', async () => {
    const ctx = context(async () => true, 'a new password');
    expect(await replicationRoleStep.check(ctx)).toEqual({ done: false, detail: 'role repl has a different password' });
    const [action] = await replicationRoleStep.plan(ctx);
    expect(action.summary).toContain('replacing its current password');
    expect(action.sql).toBe(`ALTER ROLE "repl" WITH LOGIN REPLICATION PASSWORD '<SCRAM verifier, computed locally>'`);
    expect(statuses(await run(ctx, [replicationRoleStep]))).toEqual({ 'replication-role': 'done' });
    expect(replicationConnection('a new password').ok).toBe(true);
    expect(replicationConnection().ok).toBe(false);
  });

  it('refuses to replace an existing role\'s password with one it generated itself', async () => {
    const base = context(async () => true, 'generated by the wizard');
    const ctx = { ...base, settings: { ...base.settings, passwordGenerated: true } };
    const [result] = await run(ctx, [replicationRoleStep]);
    expect(result.error?.message).toBe('role repl already exists with a password, and no password was given for it');
    expect(result.error?.fix).toContain('PGREPL_PASSWORD');
    expect(replicationConnection('a new password').ok).toBe(true);
  });

  it('recreates a slot that reserves no WAL', async () => {
    psqlIn('primary', `SELECT pg_drop_replication_slot('${slot}')`);
    psqlIn('primary', `SELECT pg_create_physical_replication_slot('${slot}')`); // no immediately_reserve
    const ctx = context(async () => true);
    expect((await replicationSlotStep.check(ctx)).detail).toContain('reserves no WAL');
    expect((await replicationSlotStep.plan(ctx)).map((a) => a.sql)).toEqual([
      `SELECT pg_drop_replication_slot('${slot}')`,
      `SELECT pg_create_physical_replication_slot('${slot}', true)`,
    ]);
    expect(statuses(await run(ctx, [replicationSlotStep]))).toEqual({ 'replication-slot': 'done' });
    expect(psqlIn('primary', `SELECT restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toBe('t');
  });

  it('reports the server\'s own error with a fix when no slot is free', async () => {
    psqlIn('primary', `SELECT pg_drop_replication_slot('${slot}')`);
    psqlIn('primary', 'SELECT pg_create_physical_replication_slot(format($$pgw_filler_%s$$, i)) FROM generate_series(1, 10) i');
    const attempt = replicationSlotStep.apply(context(async () => true));
    await expect(attempt).rejects.toThrow(/all replication slots are in use/);
    await expect(attempt).rejects.toSatisfy((error: WizardError) => error.fix.includes('raise max_replication_slots'));
  });

  it('archives WAL into --archive-dir, a path that needs shell quoting', async () => {
    const archiveDir = "/var/lib/postgresql/wal archive's";
    const base = context(async () => true);
    const ctx = { ...base, settings: { ...base.settings, archiveDir } };
    expect((await primarySettingsStep.check(ctx)).done).toBe(false);
    const before = inHost('primary', ['cat', autoConf]);
    const planned = (await primarySettingsStep.plan(ctx)).find((action) => action.diff)!.diff!;
    expect(statuses(await run(ctx, [primarySettingsStep]))).toEqual({ 'primary-settings': 'done' });
    // The diff in the plan is exactly what ALTER SYSTEM wrote.
    expect(inHost('primary', ['cat', autoConf])).toBe(applyPatch(before, planned));
    expect(inHost('primary', ['stat', '-c', '%U %a', archiveDir])).toBe('postgres 700\n');
    psqlIn('primary', 'SELECT pg_switch_wal() FROM (SELECT pg_logical_emit_message(true, $$pgw$$, $$x$$)) m');
    // The archiver runs on its own schedule: wait for it rather than for a fixed time.
    let archiver = '';
    for (let i = 0; i < 60 && !archiver.startsWith('1|'); i++) {
      archiver = psqlIn('primary', 'SELECT archived_count, failed_count FROM pg_stat_archiver');
      if (!archiver.startsWith('1|')) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(archiver).toBe('1|0');
    const segment = inHost('primary', ['ls', archiveDir]).trim();
    expect(segment).toMatch(/^[0-9A-F]{24}$/);

    // A crash between the copy and the server's acknowledgement archives the segment again: the
    // server's own archive_command, run as the server runs it, must accept the identical copy
    // and refuse one with other content.
    const rearchive = (path: string) =>
      inHost('primary', ['runuser', '-u', 'postgres', '--', 'sh', '-c', 'cd "$1" && cmd=$(psql -X -At -p 5433 -c "SHOW archive_command") && ' +
        'cmd=$(printf %s "$cmd" | sed -e "s|%p|$2|g" -e "s|%f|$3|g" -e "s|%%|%|g") && sh -c "$cmd" 2>&1; echo "exit $?"', 'rearchive', '/var/lib/postgresql/15/prod', path, segment]);
    const copy = `/tmp/pgw-${segment}`;
    inHost('primary', ['install', '-o', 'postgres', '-m', '0600', '--', `${archiveDir}/${segment}`, copy]);
    expect(rearchive(copy).trim()).toBe('exit 0');
    inHost('primary', ['sh', '-c', 'printf x >> "$1"', 'append', copy]);
    expect(rearchive(copy)).toMatch(/is archived already, with other content\nexit 1/);
    expect(inHost('primary', ['ls', '-A', archiveDir]).trim()).toBe(segment);
  });

  it('leaves a pg_hba.conf that already has errors alone, naming the bad line', async () => {
    inHost('primary', ['sh', '-c', `echo 'host all all 10.0.0.0/8 bogusmethod' >> ${hbaFile}`]);
    const before = inHost('primary', ['sha256sum', hbaFile]);
    const [result] = await run(context(async () => true), [pgHbaStep]);
    expect(result.status).toBe('failed');
    expect(result.error?.message).toMatch(/pg_hba\.conf already has errors \(line \d+: invalid authentication method "bogusmethod"\)/);
    expect(inHost('primary', ['sha256sum', hbaFile])).toBe(before);
  });
});
