import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WizardError } from '../../src/errors.js';
import { terminalIo } from '../../src/io.js';
import { parseOptions, passwordEnv } from '../../src/options.js';
import { resolveSettings, slotNameFor } from '../../src/setup/prepare.js';
import { runSteps } from '../../src/setup/runner.js';
import { connectPair, discoverPair, type Pair } from '../../src/session.js';
import { toNode, type ChangeRecord, type PlannedAction, type Progress, type StepContext } from '../../steps/contract.js';
import { cloneStandbyStep } from '../../steps/clone-standby.js';
import { recoveryConfigStep } from '../../steps/recovery-config.js';
import { startStandbyStep } from '../../steps/start-standby.js';
import { verifyStreamingStep } from '../../steps/verify-streaming.js';
import { inHost, lab, labReset, psqlIn } from './lab.js';

/**
 * Steps 5–8 against the two-host lab, with the primary prepared by hand the way steps 1–4
 * leave it. The tests run in order: plan, refusal, interrupted clone, full run, re-run.
 */

const standbySteps = [cloneStandbyStep, recoveryConfigStep, startStandbyStep, verifyStreamingStep];
// ":" and "\" need escaping in the passfile, "'" in SQL: the password must survive all of them.
const password = "lab:pa'ss\\word";
const slot = slotNameFor(lab.standbyIp);
const dataDirectory = '/var/lib/postgresql/15/main';
const passfile = '/var/lib/postgresql/.pgpass';

function preparePrimary(): void {
  psqlIn('primary', `ALTER SYSTEM SET listen_addresses = 'localhost,${lab.primaryIp}'`);
  psqlIn('primary', `CREATE ROLE repl LOGIN REPLICATION PASSWORD '${password.replace(/'/g, "''")}'`);
  inHost('primary', ['sh', '-c', `echo 'host replication repl ${lab.standbyIp}/32 scram-sha-256' >> /etc/postgresql/15/prod/pg_hba.conf`]);
  // In the primary's own config directory, which the clone does not copy: the standby must be raised to it.
  inHost('primary', ['sh', '-c', 'echo "max_connections = 150" > /etc/postgresql/15/prod/conf.d/more-connections.conf']);
  inHost('primary', ['pg_ctlcluster', '15', 'prod', 'restart']);
  psqlIn('primary', `SELECT pg_create_physical_replication_slot('${slot}')`);
  // Big enough (about 1.5 GB) that a clone still copies when its first progress report arrives.
  inHost('primary', ['runuser', '-u', 'postgres', '--', 'createdb', '-p', '5433', 'bench']);
  inHost('primary', ['runuser', '-u', 'postgres', '--', 'pgbench', '-p', '5433', '-i', '-q', '-s', '100', 'bench']);
}

interface Session {
  pair: Pair;
  ctx: StepContext;
  notes: string[];
  progress: Progress[];
  changes: ChangeRecord[];
}

const sessions: Pair[] = [];

/** A fresh connection, discovery and settings, as one `pgrepl-wizard setup` run has them. */
async function openSession(overrides: Partial<Pick<StepContext, 'signal' | 'confirm'>> & { onProgress?: (p: Progress) => void } = {}): Promise<Session> {
  const options = await parseOptions(['setup', '--config', lab.config], { ...process.env, [passwordEnv]: password });
  const io = terminalIo();
  const pair = await connectPair(options, io);
  sessions.push(pair);
  const facts = await discoverPair(pair, options, io);
  const settings = await resolveSettings(pair, facts, options, io);
  const session: Session = { pair, ctx: undefined!, notes: [], progress: [], changes: [] };
  session.ctx = {
    primary: toNode(pair.primary, facts.primary),
    standby: toNode(pair.standby, facts.standby),
    settings,
    signal: overrides.signal ?? new AbortController().signal,
    confirm: overrides.confirm ?? (async () => true),
    progress: (p) => {
      session.progress.push(p);
      overrides.onProgress?.(p);
    },
    note: (line) => session.notes.push(line),
    recordChange: (change) => session.changes.push(change),
  };
  return session;
}

/** What `setup --plan` must leave alone: files under PostgreSQL's directories, slots, roles. */
function hostSnapshot(): string {
  const files = (host: 'primary' | 'standby') =>
    inHost(host, ['sh', '-c', 'find /var/lib/postgresql /etc/postgresql -maxdepth 3 -printf "%p %m %u\\n" | sort; md5sum /etc/postgresql/*/*/*.conf']);
  return [files('primary'), files('standby'), psqlIn('primary', 'SELECT slot_name, active FROM pg_replication_slots'), psqlIn('primary', 'SELECT rolname FROM pg_roles ORDER BY 1')].join('\n');
}

const standbySystemId = () => psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()');
const sideDirectoryExists = () => inHost('standby', ['sh', '-c', `test -e ${dataDirectory}.pgrepl-new && echo yes || echo no`]).trim() === 'yes';

let originalStandbyId: string;

beforeAll(() => {
  labReset();
  preparePrimary();
  originalStandbyId = standbySystemId();
});

afterAll(async () => {
  await Promise.all(sessions.map((pair) => pair.close()));
});

describe('standby steps against the lab', () => {
  it('plans the clone, recovery settings, start and verification without changing either host', async () => {
    const before = hostSnapshot();
    const { ctx, notes } = await openSession();
    const results = await runSteps(standbySteps, () => ctx, { planOnly: true, emit: () => undefined });
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['clone-standby', 'planned'],
      ['recovery-config', 'planned'],
      ['start-standby', 'planned'],
      ['verify-streaming', 'planned'],
    ]);
    const replace = results[0].actions!.find((a) => a.destructive === 'replace-standby-data')!;
    expect(replace.command).toContain(`${dataDirectory}.pgrepl-new`);
    expect(replace.command!.join(' ')).not.toContain(password);
    expect(notes).toContain(
      `precheck replication-connection runs at apply time: ${passfile} does not hold the password yet; it is written, and this connection tried, right before the clone`,
    );
    const autoConfDiff = results[1].actions!.find((a) => a.summary.includes('postgresql.auto.conf'))!.diff!;
    expect(autoConfDiff).toContain(`+primary_slot_name = '${slot}'`);
    expect(autoConfDiff).toContain(`+listen_addresses = 'localhost,${lab.standbyIp}'`);
    expect(autoConfDiff).toContain("+max_connections = '150'");
    expect(hostSnapshot()).toBe(before);
  });

  it('stops before touching the standby when the replacement is not confirmed', async () => {
    const asked: PlannedAction[] = [];
    const { ctx } = await openSession({ confirm: async (action) => (asked.push(action), false) });
    await expect(cloneStandbyStep.apply(ctx)).rejects.toThrow('stopped before touching the standby');
    expect(asked.map((a) => a.destructive)).toEqual(['replace-standby-data']);
    expect(standbySystemId()).toBe(originalStandbyId);
  });

  it("stops at the replication-connection precheck with PostgreSQL's own reason when pg_hba.conf lacks the standby", async () => {
    const hba = '/etc/postgresql/15/prod/pg_hba.conf';
    inHost('primary', ['sed', '-i', '/^host replication repl /d', hba]);
    psqlIn('primary', 'SELECT pg_reload_conf()');
    try {
      const { ctx } = await openSession();
      const failure = await cloneStandbyStep.apply(ctx).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(WizardError);
      const { message, where, fix } = failure as WizardError;
      expect(message).toContain(`no pg_hba.conf entry for replication connection from host "${lab.standbyIp}", user "repl"`);
      expect(where).toBe(`standby labadmin@${lab.standbyIp}`);
      expect(fix).toContain(`"host replication repl ${lab.standbyIp}/32 scram-sha-256"`);
      expect(standbySystemId()).toBe(originalStandbyId);
    } finally {
      inHost('primary', ['sh', '-c', `echo 'host replication repl ${lab.standbyIp}/32 scram-sha-256' >> ${hba}`]);
      psqlIn('primary', 'SELECT pg_reload_conf()');
    }
  });

  it("leaves the standby's old cluster running and intact when the clone is interrupted mid-copy", async () => {
    const controller = new AbortController();
    const { ctx, progress } = await openSession({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.percent < 100) controller.abort(new Error('interrupted by the test'));
      },
    });
    const clone = cloneStandbyStep.apply(ctx);
    await expect(clone).rejects.toThrow(WizardError);
    await expect(clone).rejects.toThrow("the clone was interrupted; the standby's data directory was not touched");
    expect(progress.some((p) => p.percent < 100)).toBe(true);
    expect(standbySystemId()).toBe(originalStandbyId);
    expect(sideDirectoryExists()).toBe(false);
    // pg_basebackup and its WAL streamer were ended, not left copying into nothing.
    // ("[/]" keeps pgrep's own shell, whose command line holds the pattern, from matching.)
    expect(inHost('standby', ['sh', '-c', `pgrep -f -- '-D [/]${dataDirectory.slice(1)}.pgrepl-new' || true`]).trim()).toBe('');
  });

  it('turns the standby into a streaming copy of the primary', async () => {
    const { ctx, progress, changes } = await openSession();
    const results = await runSteps(standbySteps, () => ctx, { planOnly: false, emit: () => undefined });
    expect(results.map((r) => [r.id, r.status, r.error?.message])).toEqual([
      ['clone-standby', 'done', undefined],
      ['recovery-config', 'done', undefined],
      ['start-standby', 'done', undefined],
      ['verify-streaming', 'done', undefined],
    ]);
    expect(progress.at(-1)).toMatchObject({ stepId: 'clone-standby', percent: 100 });

    expect(psqlIn('primary', `SELECT state FROM pg_stat_replication WHERE application_name = '${slot}'`)).toBe('streaming');
    expect(psqlIn('primary', `SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toBe('t');
    expect(results[3].detail).toMatch(/a canary written at [0-9A-F]+\/[0-9A-F]+ on the primary was replayed on the standby after \d+ ms/);

    psqlIn('primary', "INSERT INTO t VALUES (100, 'written on the primary')", 'appdb');
    let seen = '';
    for (let attempt = 0; attempt < 100 && seen === ''; attempt++) {
      seen = psqlIn('standby', 'SELECT note FROM t WHERE id = 100', 'appdb');
      if (seen === '') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(seen).toBe('written on the primary');

    const kept = inHost('standby', ['sh', '-c', `ls -d ${dataDirectory}.pgrepl-old-*`]).trim().split('\n');
    expect(kept).toHaveLength(1);
    expect(inHost('standby', ['/usr/lib/postgresql/15/bin/pg_controldata', '-D', kept[0]])).toContain(`Database system identifier:           ${originalStandbyId}`);
    expect(changes.some((c) => c.backup === kept[0])).toBe(true);

    expect(inHost('standby', ['stat', '-c', '%a %U', passfile]).trim()).toBe('600 postgres');
    const conninfo = psqlIn('standby', 'SHOW primary_conninfo');
    expect(conninfo).toBe(`host=${lab.primaryIp} port=5433 user=repl passfile=${passfile} application_name=${slot}`);
    expect(conninfo).not.toContain("pa'ss");
    // A hot standby needs at least the primary's max_connections, set outside the data directory there.
    expect(psqlIn('standby', 'SHOW max_connections')).toBe('150');
    // The clone brought the primary's listen_addresses; the standby listens on its own address.
    expect(psqlIn('standby', 'SHOW listen_addresses')).toBe(`localhost,${lab.standbyIp}`);
  });

  it("puts the standby log's FATAL line and its fix into a failed start", async () => {
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    inHost('standby', ['chmod', '0755', dataDirectory]);
    try {
      const { ctx } = await openSession();
      const failure = (await startStandbyStep.apply(ctx).then(
        () => undefined,
        (error: unknown) => error,
      )) as WizardError;
      expect(failure).toBeInstanceOf(WizardError);
      expect(failure.message).toContain(`FATAL: data directory "${dataDirectory}" has invalid permissions`);
      expect(failure.message).toContain('DETAIL: Permissions should be u=rwx (0700) or u=rwx,g=rx (0750).');
      expect(failure.fix).toContain('chmod 0700');
    } finally {
      inHost('standby', ['chmod', '0700', dataDirectory]);
    }
    const { ctx } = await openSession();
    expect(await startStandbyStep.apply(ctx)).toBe('15/main started and is in recovery');
  });

  it('finds the clone, the recovery settings and the start done on a second run', async () => {
    const { ctx } = await openSession();
    for (const step of [cloneStandbyStep, recoveryConfigStep, startStandbyStep]) {
      expect({ step: step.id, ...(await step.check(ctx)) }).toMatchObject({ step: step.id, done: true });
    }
    expect((await verifyStreamingStep.check(ctx)).done).toBe(false);
    expect(await verifyStreamingStep.verify(ctx)).toMatch(/in state streaming/);
  });
});
