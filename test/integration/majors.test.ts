import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import matrix from '../lab/matrix.json' with { type: 'json' };
import { runCli, tempDir } from './lab.js';
import { TerminalSession } from './tmux.js';

interface LabPair {
  id: string;
  primary: string;
  standby: string;
  tablespaces?: number;
  /** `refused`: the wizard must stop before any change (mixed majors). */
  expect?: string;
}
const hostKinds: Record<string, { layout: string; major: number; root: string }> = matrix.hostKinds;

/**
 * PGW_MATRIX_SHARD=K/N (test/suites.sh runs two shards side by side, each in a lab instance of
 * its own): every Nth pair from the Kth. Pairs on this machine's own root come first in each
 * shard, so on a fresh machine the other Debian roots (`lab.sh cache`) are built meanwhile.
 */
function shardOf(pairs: LabPair[]): LabPair[] {
  const shard = process.env.PGW_MATRIX_SHARD;
  if (!shard) return pairs;
  const [k, n] = shard.split('/').map(Number);
  if (!(n >= 1 && k >= 1 && k <= n)) throw new Error(`PGW_MATRIX_SHARD must be K/N with 1 <= K <= N (got "${shard}")`);
  const needsBuiltRoot = (pair: LabPair) => [pair.primary, pair.standby].some((kind) => hostKinds[kind].root !== 'machine');
  const ordered = [...pairs.filter((pair) => !needsBuiltRoot(pair)), ...pairs.filter(needsBuiltRoot)];
  return ordered.filter((_pair, index) => index % n === k - 1);
}
const labPairs: LabPair[] = shardOf(matrix.pairs);
/** A pair's whole run waits on servers (restarts, clones, the walreceiver's 5 s retries): minutes on a busy 2-core machine. */
const slow = 300_000;

/**
 * Every PostgreSQL major and layout the lab runs (test/lab/matrix.json), on real servers:
 * headless setup streams (canary replayed, a row written on the primary read on the
 * standby), a second run is all already-done, doctor and status are healthy; on the pairs
 * where the path differs (hbaPairs, recloningPairs below), doctor finds hba-missing and
 * sysid-mismatch quoting that version's log lines, and --fix repairs them.
 * A pair the matrix marks `refused` (mixed majors) is refused before any change.
 *
 * The pairs run one after another in a lab instance of their own (test/suites.sh runs this
 * file in two shards beside the rest of the suite, with PGW_LAB set to each shard's instance),
 * each rebuilt as its kind; the runbook pairs carry four tablespaces on the primary.
 */

const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');
type Side = 'primary' | 'standby';

/** One lab pair as `lab.sh env` describes it after `lab.sh up KIND`. */
class MatrixLab {
  env: Record<string, string> = {};

  constructor(readonly pair: LabPair) {}

  private sh(args: string[]): string {
    return execFileSync('bash', [labScript, ...args], { encoding: 'utf8', env: { ...process.env, PGW_LAB_KIND: this.pair.id }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Each host is the server `lab.sh env` describes: its major, data directory, config file and OS user; port 3000 and the own log directory when hand-installed. */
  expectDescribed(): void {
    for (const side of ['primary', 'standby'] as const) {
      expect(this.psql(side, 'SELECT version()'), side).toMatch(new RegExp(`^PostgreSQL ${this.get(side, 'MAJOR')}\\.\\d+ `));
      expect(this.psql(side, 'SHOW data_directory'), side).toBe(this.get(side, 'PGDATA'));
      expect(this.psql(side, 'SHOW config_file'), side).toBe(this.get(side, 'CONFIG_FILE'));
      expect(this.psql(side, 'SELECT current_user'), side).toBe(this.get(side, 'OS_USER'));
      if (this.get(side, 'LAYOUT') === 'hand') {
        expect(this.psql(side, 'SHOW port'), side).toBe('3000');
        expect(this.psql(side, 'SHOW log_directory'), side).toBe(this.get(side, 'LOG_DIR'));
      }
    }
  }

  up(): void {
    this.sh(['up', this.pair.id]);
    this.env = Object.fromEntries(
      this.sh(['env'])
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  }

  get(side: Side, name: string): string {
    const value = this.env[`LAB_${side.toUpperCase()}_${name}`];
    if (value === undefined) throw new Error(`lab.sh env printed no LAB_${side.toUpperCase()}_${name}`);
    return value;
  }

  ip = (side: Side) => this.env[side === 'primary' ? 'LAB_PRIMARY_IP' : 'LAB_STANDBY_IP'];
  flags = (extra: string[] = []) => ['--config', this.env.LAB_CONFIG, ...extra];
  inHost = (side: Side, argv: string[]) => this.sh(['exec', side, ...argv]);

  /** psql as the server's OS user over its own socket, with that host's client. */
  psql(side: Side, sql: string, database = 'postgres'): string {
    const psql = `${this.get(side, 'CLIENT_BINDIR')}/psql`;
    return this.inHost(side, ['runuser', '-u', this.get(side, 'OS_USER'), '--', psql, '-X', '-At', '-h', this.get(side, 'SOCKET_DIR'), '-p', this.get(side, 'PORT'), '-d', database, '-c', sql]).trim();
  }

  /** pg_ctlcluster for a Debian cluster, pg_ctl as the data directory's owner otherwise. */
  control(side: Side, action: 'start' | 'stop' | 'promote'): string {
    if (this.get(side, 'LAYOUT') === 'debian') return `pg_ctlcluster ${this.get(side, 'CLUSTER').replace('/', ' ')} ${action}`;
    const log = `${this.get(side, 'LOG_DIR')}/../pg_ctl.log`;
    return `runuser -u ${this.get(side, 'OS_USER')} -- ${this.get(side, 'BINDIR')}/pg_ctl -D ${this.get(side, 'PGDATA')} -w -l ${log} ${action}`;
  }
}

interface Evidence {
  host: string;
  source: string;
  lines: string[];
}
interface Finding {
  id: string;
  severity: string;
  detail?: string;
  host: string;
  evidence: Evidence[];
  resolved?: boolean;
}
interface Report {
  code: number;
  healthy: boolean;
  findings: Finding[];
  /** doctor --fix: what it decided (notes) and ran. */
  repairs?: { notes: string[]; steps: { id: string; status: string; detail: string }[] };
}

async function doctor(lab: MatrixLab, extra: string[] = [], env: Record<string, string> = {}): Promise<Report> {
  const result = await runCli(['doctor', '--json', ...lab.flags(extra)], env);
  try {
    return { code: result.code, ...JSON.parse(result.stdout) };
  } catch {
    throw new Error(`doctor printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** Log lines a finding quotes from that host's log files (not query results). */
const logLines = (finding: Finding | undefined, host: Side) =>
  (finding?.evidence ?? []).filter((e) => e.host === host && e.source.startsWith('/')).flatMap((e) => e.lines);

/** Runs doctor until `done` holds (the walreceiver retries every 5 s) or the deadline passes. */
async function doctorUntil(lab: MatrixLab, done: (report: Report) => boolean, timeoutMs = 60_000): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await doctor(lab);
    if (done(report) || Date.now() > deadline) return report;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** `read` once it gives a value, polled until the deadline. */
async function eventually<T>(what: string, read: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const quotedError = (id: string, host: Side) => (report: Report) =>
  report.findings.some((f) => f.id === id && f.severity === 'error' && logLines(f, host).length > 0);

let nextRow = 20_000;
/** Tells this run's rows from an earlier run's on the same pair (a re-run of some cases with -t). */
const runTag = Date.now().toString(36);

/** The primary sees the standby streaming, and a row written on the primary is read on the standby. */
async function expectRowArrives(lab: MatrixLab): Promise<void> {
  expect(lab.psql('primary', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.ip('standby')}'`)).toBe('streaming');
  const id = nextRow++;
  lab.psql('primary', `INSERT INTO t VALUES (${id}, 'row ${id} ${runTag}') ON CONFLICT (id) DO UPDATE SET note = excluded.note`, 'appdb');
  const deadline = Date.now() + 30_000;
  let note = '';
  while (!note && Date.now() < deadline) {
    note = lab.psql('standby', `SELECT note FROM t WHERE id = ${id}`, 'appdb');
    if (!note) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(note).toBe(`row ${id} ${runTag}`);
}

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');

/** The interactive wizard in a real terminal (tmux), as an operator walks it: every default, the restart and the wipe confirmed. */
async function walkInteractiveSetup(lab: MatrixLab): Promise<string> {
  const terminal = new TerminalSession();
  try {
    terminal.start(['node', cli, ...lab.flags(['--restart-primary'])], { PGREPL_PASSWORD: 'matrix-password' });
    await terminal.waitFor('What next?', slow);
    await terminal.send(['Enter']); // Set up a standby
    for (const prompt of ['Replication role name:', 'Replication slot name:', 'WAL archiving on the primary?', 'Checkpoint before the clone', "The standby's current data directory"]) {
      await terminal.waitFor(prompt);
      await terminal.send(['Enter']);
    }
    await terminal.waitFor('Run this plan?');
    await terminal.send(['Enter']); // Run it
    const hostname = lab.inHost('standby', ['uname', '-n']).trim();
    await terminal.waitFor(`Type ${hostname} to confirm:`, slow);
    await terminal.send([hostname], true);
    await terminal.send(['Enter']);
    const result = await terminal.waitFor(/Result: the standby is set up\.|Result: setup stopped/, slow);
    await terminal.send(['Enter']);
    await terminal.waitFor('EXIT=');
    return result;
  } finally {
    terminal.close();
  }
}

/**
 * Where pg_rewind's path differs by major and layout (README "Rewind instead of a re-clone"),
 * what the standby promoted by mistake and written to must show after doctor --fix.
 */
const rewindCases: Record<string, { title: string; prepare?: (lab: MatrixLab) => void; crash?: boolean; rewound: boolean; says?: string }> = {
  // The configuration lives in /etc: pg_rewind must never start the server in single-user mode (13+ would, on a crashed target).
  'deb-13': {
    title: 'PostgreSQL 13, configuration outside the data directory: a crashed promoted standby is started and stopped once, then rewound',
    prepare: (lab) => {
      lab.psql('standby', 'ALTER SYSTEM SET wal_log_hints = on');
      lab.inHost('standby', ['sh', '-c', `${lab.control('standby', 'stop')} && ${lab.control('standby', 'start')} >/dev/null`]);
    },
    crash: true,
    rewound: true,
  },
  // The lab's hand-installed servers ship initdb, pg_ctl and postgres only; no pg_rewind 10 exists on the host.
  'hand-10': {
    title: 'PostgreSQL 10 without a pg_rewind of its own major: said so, and the standby is cloned again instead',
    rewound: false,
    says: 'no pg_rewind of PostgreSQL 10 on the standby (looked in ',
  },
  // initdb 18 turns data checksums on: pg_rewind works without wal_log_hints.
  'deb-18': {
    title: 'PostgreSQL 18, data checksums on by default: rewound without wal_log_hints',
    prepare: (lab) => expect([lab.psql('standby', 'SHOW data_checksums'), lab.psql('standby', 'SHOW wal_log_hints')]).toEqual(['on', 'off']),
    rewound: true,
  },
  'deb-18 without checksums': {
    title: 'PostgreSQL 18 with data checksums turned off and wal_log_hints off: pg_rewind says why, and the standby is cloned again',
    prepare: (lab) => {
      const data = lab.get('standby', 'PGDATA');
      lab.inHost('standby', ['sh', '-c', `set -e; ${lab.control('standby', 'stop')}; runuser -u postgres -- ${lab.get('standby', 'BINDIR')}/pg_checksums --disable -D ${data} >/dev/null; ${lab.control('standby', 'start')} >/dev/null`]);
    },
    rewound: false,
    says: 'target server needs to use either data checksums or "wal_log_hints = on"',
  },
};

/** The standby promoted (by mistake), a row written on each side; `crash`: the promoted standby then stops uncleanly. */
async function promoteAndWrite(lab: MatrixLab, stray: number, written: number, crash: boolean): Promise<void> {
  lab.inHost('standby', ['sh', '-c', `${lab.control('standby', 'promote')} >/dev/null`]);
  const deadline = Date.now() + 60_000;
  while (lab.psql('standby', 'SELECT pg_is_in_recovery()') !== 'f') {
    if (Date.now() > deadline) throw new Error('the standby was not promoted within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  lab.psql('standby', `INSERT INTO t VALUES (${stray}, 'written on the promoted standby')`, 'appdb');
  lab.psql('primary', `INSERT INTO t VALUES (${written}, 'written on the primary after the fork')`, 'appdb');
  if (crash) lab.inHost('standby', ['sh', '-c', `${lab.control('standby', 'stop')} -m immediate`]);
}

const systemId = (lab: MatrixLab, side: Side) => lab.psql(side, 'SELECT system_identifier FROM pg_control_system()');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const streaming = labPairs.filter((pair) => pair.expect !== 'refused');
/** The pairs whose WAL archiving path differs from archive.test.ts's Debian 15 pair: the runbook's hand-installed 11 (recovery.conf). */
const archivingPairs = ['hand-11'];
const refused = labPairs.filter((pair) => pair.expect === 'refused');
/**
 * sysid-mismatch's wording is the same on every major; what differs is the re-clone --fix runs:
 * recovery.conf (≤ 11) and tablespaces (hand-11), tablespaces on a current major (hand-18), Debian's
 * oldest packaging (deb-13) and a clone across layouts (cross-15). Debian 15 is doctor-standby's.
 */
const recloningPairs = ['hand-11', 'hand-18', 'deb-13', 'cross-15'];
/**
 * hba-missing's message is the same from 10 to 18; what differs is where its log lines are read
 * and how the walreceiver wraps them: the oldest major and recovery.conf hand-installed (hand-10,
 * hand-11), a current one hand-installed (hand-18), Debian's oldest packaging (deb-13), PG 18's
 * wrapper that names the receiver (deb-18) and a clone across layouts (cross-15). Debian 15 is
 * doctor-primary's and doctor-evidence's.
 */
const hbaPairs = ['hand-10', 'hand-11', 'hand-18', 'deb-13', 'deb-18', 'cross-15'];

describe.each(streaming.map((pair) => [pair.id, pair] as const))('%s', (_id, pair) => {
  const lab = new MatrixLab(pair);
  const major = hostKinds[pair.primary].major;

  beforeAll(() => lab.up(), slow);

  it('the lab built the servers its matrix entry describes', () => lab.expectDescribed());

  it(`PostgreSQL ${major}: headless setup streams, the canary is replayed, a row written on the primary is read on the standby`, async () => {
    const standbyUser = lab.get('standby', 'OS_USER');
    if (standbyUser !== lab.get('primary', 'OS_USER')) {
      // Cross-layout: after the clone the standby has the primary's roles only; refused before any change, naming what works.
      const refusal = await runCli(['setup', '--yes', '--restart-primary', ...lab.flags()], { PGREPL_PASSWORD: 'matrix-password' });
      expect(refusal.code).toBe(1);
      expect(refusal.stdout + refusal.stderr).toContain(`on the primary: CREATE ROLE ${standbyUser} LOGIN SUPERUSER`);
      expect(lab.psql('primary', "SELECT count(*) FROM pg_roles WHERE rolname = 'repl'")).toBe('0');
      lab.psql('primary', `CREATE ROLE ${standbyUser} LOGIN SUPERUSER`);
    }
    if (pair.tablespaces) {
      // The runbook's own shape: an operator at the interactive wizard, every default taken.
      const result = await walkInteractiveSetup(lab);
      expect(result).toContain('Result: the standby is set up.');
      expect(result).toMatch(/canary written at \S+ on the primary was replayed on the standby/);
    } else {
      const result = await runCli(['setup', '--yes', '--restart-primary', '--json', ...lab.flags()], { PGREPL_PASSWORD: 'matrix-password' });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const outcome = JSON.parse(result.stdout) as { steps: { id: string; status: string; detail: string }[] };
      expect(outcome.steps.find((s) => s.id === 'verify-streaming')?.detail).toMatch(/canary written at \S+ on the primary was replayed on the standby/);
    }
    expect(systemId(lab, 'standby')).toBe(systemId(lab, 'primary'));
    expect(lab.psql('standby', 'SELECT pg_is_in_recovery()')).toBe('t');
    if (major <= 11) expect(lab.inHost('standby', ['ls', lab.get('standby', 'PGDATA')])).toMatch(/^recovery\.conf$/m);
    await expectRowArrives(lab);
  }, slow);

  if (pair.tablespaces) {
    it(`clones all ${pair.tablespaces} tablespaces to the same paths on the standby`, async () => {
      const locations = lab.psql('standby', "SELECT string_agg(pg_tablespace_location(oid), ' ' ORDER BY spcname) FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')");
      expect(locations).toBe(lab.get('primary', 'TABLESPACE_DIRS'));
      const counts = lab.psql('standby', "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c JOIN pg_tablespace s ON s.oid = c.reltablespace WHERE c.relkind = 'r' AND s.spcname NOT IN ('pg_default', 'pg_global')", 'appdb');
      expect(counts.split(' ')).toHaveLength(pair.tablespaces!);
    }, slow);
  }

  it('a second run finds every step already done (logged in as a hand-installed server\'s own account, no sudo)', async () => {
    // The runbook's operator logs in as dbadmin, the account that runs the server, with a key.
    const ownAccount = (side: Side) => (lab.get(side, 'LAYOUT') === 'hand' ? [`--${side}`, `${lab.get(side, 'OS_USER')}@${lab.ip(side)}`] : []);
    const result = await runCli(['setup', '--yes', '--json', ...lab.flags([...ownAccount('primary'), ...ownAccount('standby')])]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { steps: { status: string }[] };
    expect(outcome.steps.map((s) => s.status)).toEqual([...Array(7).fill('already-done'), 'done']);
  }, slow);

  it('doctor and status find the pair healthy', async () => {
    const report = await doctor(lab);
    expect(report.findings.filter((f) => f.severity === 'error'), JSON.stringify(report.findings)).toEqual([]);
    expect(report.healthy).toBe(true);
    expect(report.code).toBe(0);
    // status reads each major's own columns and functions (pause state, sender_host, wal_status, inactive_since).
    const status = await runCli(['status', '--json', ...lab.flags()], { XDG_STATE_HOME: tempDir('pgrepl-matrix-state-') });
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      healthy: true,
      standby: { replayPauseState: 'not paused', receiverStatus: 'streaming', senderHost: lab.ip('primary') },
      standbys: [expect.objectContaining({ clientAddr: lab.ip('standby'), state: 'streaming', thisStandby: true })],
    });
  }, slow);

  if (hbaPairs.includes(pair.id)) {
    it(`hba-missing: doctor quotes PostgreSQL ${major}'s log lines, --fix restores streaming`, async () => {
      const hba = lab.psql('primary', 'SHOW hba_file');
      lab.inHost('primary', ['sed', '-i', '/pgrepl-wizard/d', hba]);
      lab.psql('primary', 'SELECT pg_reload_conf()');
      lab.psql('primary', `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE client_addr = '${lab.ip('standby')}'`);
      const report = await doctorUntil(lab, quotedError('hba-missing', 'standby'));
      const finding = report.findings.find((f) => f.id === 'hba-missing' && f.severity === 'error');
      const message = `no pg_hba\\.conf entry for replication connection from host "${escape(lab.ip('standby'))}", user "repl"`;
      // The walreceiver wraps libpq's text (PG 18 names itself, postgres-facts.md); libpq built with
      // SSL tries twice and puts the second attempt on a continuation line of its own.
      const wrapper = major >= 18 ? 'streaming replication receiver "[^"]+" could not connect to the primary server' : 'could not connect to the primary server';
      expect(logLines(finding, 'standby'), JSON.stringify(report.findings)).toContainEqual(expect.stringMatching(new RegExp(`(FATAL:\\s+${wrapper}: |^\\s).*${message}`)));
      expect(logLines(finding, 'primary')).toContainEqual(expect.stringMatching(new RegExp(`FATAL:\\s+${message}`)));

      const after = await doctor(lab, ['--fix', '--yes']);
      expect(after.findings.filter((f) => f.severity === 'error'), JSON.stringify(after)).toEqual([]);
      await expectRowArrives(lab);
    }, slow);
  }

  if (recloningPairs.includes(pair.id)) {
    it(`sysid-mismatch: a standby initialised afresh is found with PostgreSQL ${major}'s wording, --fix clones it again`, async () => {
      const cloned = systemId(lab, 'primary');
      const data = lab.get('standby', 'PGDATA');
      const owner = lab.get('standby', 'OS_USER');
      // A fresh initdb keeping the standby's own configuration (and its standby.signal / recovery.conf).
      lab.inHost('standby', [
        'sh',
        '-c',
        `set -e; ${lab.control('standby', 'stop')}; rm -rf /tmp/keep && mkdir /tmp/keep && cp -p ${data}/*.conf /tmp/keep/;
         cp -p ${data}/standby.signal /tmp/keep/ 2>/dev/null || true; rm -rf ${data};
         runuser -u ${owner} -- ${lab.get('standby', 'BINDIR')}/initdb -D ${data} >/dev/null 2>&1;
         cp -p /tmp/keep/* ${data}/; ${lab.control('standby', 'start')} >/dev/null`,
      ]);
      expect(systemId(lab, 'standby')).not.toBe(cloned);
      const report = await doctorUntil(lab, quotedError('sysid-mismatch', 'standby'));
      const finding = report.findings.find((f) => f.id === 'sysid-mismatch' && f.severity === 'error');
      expect(logLines(finding, 'standby'), JSON.stringify(report.findings)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/FATAL:\s+database system identifier differs between the primary and standby/),
          expect.stringMatching(new RegExp(`DETAIL:\\s+The primary's identifier is ${cloned}, the standby's identifier is \\d+\\.`)),
        ]),
      );

      const after = await doctor(lab, ['--fix', '--yes']);
      expect(after.findings.filter((f) => f.severity === 'error'), JSON.stringify(after)).toEqual([]);
      expect(systemId(lab, 'standby')).toBe(cloned);
      await expectRowArrives(lab);
    }, slow);
  }

  if (archivingPairs.includes(pair.id)) {
    // WAL archiving where its path differs from the Debian pair of archive.test.ts: recovery.conf
    // (≤ 11), pg_ctl, the server's own OS user, port 3000, the Debian client's pg_archivecleanup.
    const archive = () => `${lab.env.LAB_DIR}/wal-archive`;
    const recoveryConf = () => `${lab.get('standby', 'PGDATA')}/recovery.conf`;
    const standbySetting = (name: string) =>
      major <= 11 ? new RegExp(`^${name} = '(.*)'$`, 'm').exec(lab.inHost('standby', ['cat', recoveryConf()]))?.[1].replace(/''/g, "'") : lab.psql('standby', `SHOW ${name}`);
    const restartStandby = () => lab.inHost('standby', ['sh', '-c', `${lab.control('standby', 'stop')} && ${lab.control('standby', 'start')} >/dev/null`]);
    /** A WAL record, then the segment switched: one more segment to archive. */
    const switchWal = "SELECT pg_switch_wal() FROM (SELECT pg_logical_emit_message(true, 'pgw', 'x')) m";
    const segments = () => lab.inHost('primary', ['ls', archive()]).split('\n').filter((name) => /^[0-9A-F]{24}$/.test(name));

    it(`WAL archiving: setup --archive-dir --standby-archive-dir gives the standby restore_command and archive_cleanup_command${major <= 11 ? ' in recovery.conf' : ''}`, async () => {
      lab.inHost('primary', ['rm', '-rf', '--', archive()]);
      const result = await runCli(['setup', '--yes', '--restart-primary', '--json', '--archive-dir', archive(), '--standby-archive-dir', archive(), ...lab.flags()], { PGREPL_PASSWORD: 'matrix-password' });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(standbySetting('restore_command')).toBe(`cp ${archive()}/%f %p`);
      expect(standbySetting('archive_cleanup_command')).toMatch(new RegExp(`^/usr/lib/postgresql/\\d+/bin/pg_archivecleanup ${escape(archive())} %r$`));
      await expectRowArrives(lab);
    }, slow);

    if (major <= 11) {
      it("doctor --fix rewriting recovery.conf keeps the operator's lines (restore_command, a comment, another setting) and backs the file up", async () => {
        const restore = standbySetting('restore_command');
        // primary_conninfo lost and lines of the operator's own: the standby replays only the archive.
        lab.inHost('standby', ['sh', '-c', `sed -i '/^primary_conninfo/d' "$1" && printf '%s\\n' '# the operator: no delay' "recovery_min_apply_delay = '0'" >> "$1"`, 'sh', recoveryConf()]);
        restartStandby();
        const report = await doctorUntil(lab, (next) => next.findings.some((f) => f.id === 'primary-conninfo-missing'));
        expect(report.findings.map((f) => f.id)).toContain('primary-conninfo-missing');

        // Nothing names the role's password without primary_conninfo: the operator gives it.
        const fixed = await runCli(['doctor', '--fix', '--yes', '--json', ...lab.flags()], { PGREPL_PASSWORD: 'matrix-password' });
        expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
        const text = lab.inHost('standby', ['cat', recoveryConf()]);
        expect(text).toMatch(/^primary_conninfo = '.*'$/m);
        expect(standbySetting('restore_command')).toBe(restore);
        expect(standbySetting('archive_cleanup_command')).toMatch(/pg_archivecleanup /);
        expect(text).toContain("# the operator: no delay\nrecovery_min_apply_delay = '0'\n");
        // The file as the operator left it is kept beside it.
        const backup = lab.inHost('standby', ['sh', '-c', 'ls -t "$1".pgrepl-backup-* | head -1', 'sh', recoveryConf()]).trim();
        expect(lab.inHost('standby', ['cat', backup])).toMatch(/^# the operator: no delay$(?![^]*primary_conninfo)/m);
        await expectRowArrives(lab);
      }, slow);
    }

    it('a standby without a slot that fell behind catches up from the archive, then streams', async () => {
      const slot = standbySetting('primary_slot_name')!;
      if (major <= 11) lab.inHost('standby', ['sed', '-i', '/^primary_slot_name/d', recoveryConf()]);
      else lab.psql('standby', "ALTER SYSTEM SET primary_slot_name = ''");
      lab.inHost('standby', ['sh', '-c', lab.control('standby', 'stop')]);
      await eventually('slot released', () => (lab.psql('primary', `SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`) === 'f' ? true : undefined));
      lab.psql('primary', `SELECT pg_drop_replication_slot('${slot}')`);
      const needed = lab.psql('primary', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
      // More WAL than the primary keeps: it archives and removes segments at each checkpoint.
      const oldest = () => lab.psql('primary', "SELECT min(name) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'");
      for (let round = 0; oldest() <= needed; round++) {
        lab.psql('primary', switchWal);
        lab.psql('primary', 'CHECKPOINT');
        if (round > 100) throw new Error(`the primary still keeps ${needed} (oldest: ${oldest()})`);
      }
      lab.psql('primary', `INSERT INTO t VALUES (30999, 'after the gap ${runTag}') ON CONFLICT (id) DO UPDATE SET note = excluded.note`, 'appdb');
      lab.inHost('standby', ['sh', '-c', `${lab.control('standby', 'start')} >/dev/null`]);
      expect(await eventually('row after the gap on the standby', () => lab.psql('standby', 'SELECT note FROM t WHERE id = 30999', 'appdb') || undefined, 120_000)).toBe(`after the gap ${runTag}`);
      expect(lab.inHost('standby', ['sh', '-c', 'cat "$1"/*', 'sh', lab.get('standby', 'LOG_DIR')])).toContain(`restored log file "${needed}" from archive`);
      await eventually('streaming', () => (lab.psql('primary', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.ip('standby')}'`) === 'streaming' ? true : undefined));
      await expectRowArrives(lab);
    }, slow);

    it('doctor --fix cleans an archive no standby cleans: exactly the WAL nothing needs, reporting the space freed', async () => {
      if (major <= 11) {
        lab.inHost('standby', ['sed', '-i', '/^archive_cleanup_command/d', recoveryConf()]);
        restartStandby();
      } else {
        lab.psql('standby', 'ALTER SYSTEM RESET archive_cleanup_command');
        lab.psql('standby', 'SELECT pg_reload_conf()');
      }
      lab.psql('primary', "ALTER SYSTEM SET max_wal_size = '32MB'");
      lab.psql('primary', 'SELECT pg_reload_conf()');
      for (let round = 0; round < 5; round++) lab.psql('primary', switchWal);
      lab.psql('primary', 'CHECKPOINT');
      const report = await doctorUntil(lab, (next) => next.findings.some((f) => f.id === 'archive-cleanup'));
      const keep = /pg_archivecleanup \S+ ([0-9A-F]{24})$/.exec(report.findings.find((f) => f.id === 'archive-cleanup')?.detail ?? '')?.[1];
      expect(keep, JSON.stringify(report.findings)).toBeDefined();
      const before = segments();
      const removable = before.filter((name) => name.slice(8) < keep!.slice(8));
      expect(removable.length).toBeGreaterThan(2);

      const fixed = await runCli(['doctor', '--fix', '--yes', '--json', ...lab.flags()]);
      const step = (JSON.parse(fixed.stdout) as { repairs: { steps: { id: string; status: string; detail: string }[] } }).repairs.steps.find((s) => s.id === 'archive-cleanup');
      expect(step?.status, fixed.stdout + fixed.stderr).toBe('done');
      expect(step?.detail).toMatch(new RegExp(`^ran /usr/lib/postgresql/\\d+/bin/pg_archivecleanup ${escape(archive())} ${keep}: removed ${removable.length} WAL file\\(s\\), ${removable[0]} to ${removable.at(-1)}, [\\d.]+ MB freed`));
      expect(segments().filter((name) => name.slice(8) <= before.at(-1)!.slice(8))).toEqual(before.filter((name) => name.slice(8) >= keep!.slice(8)));
      await expectRowArrives(lab);
    }, slow);
  }

  for (const rewindCase of Object.entries(rewindCases).filter(([caseId]) => caseId.split(' ')[0] === pair.id).map(([, value]) => value)) {
    it(`rewind: ${rewindCase.title}`, async () => {
      rewindCase.prepare?.(lab);
      const stray = nextRow++;
      const written = nextRow++;
      await promoteAndWrite(lab, stray, written, rewindCase.crash ?? false);

      // 10–11 rename recovery.conf to recovery.done on promotion: primary_conninfo is gone, and --fix uses
      // the password setup stored in the passfile (no PGREPL_PASSWORD).
      const after = await doctor(lab, ['--fix', '--yes']);
      expect(after.code, JSON.stringify(after)).toBe(0);
      expect(after.findings.filter((f) => f.severity === 'error'), JSON.stringify(after)).toEqual([]);
      const steps = after.repairs!.steps.map((s) => [s.id, s.status]);
      expect(steps).toContainEqual(rewindCase.rewound ? ['rewind-standby', 'done'] : ['clone-standby', 'done']);
      if (rewindCase.rewound) expect(steps.map(([id]) => id)).not.toContain('clone-standby');
      if (rewindCase.says) expect(after.repairs!.notes.join('\n')).toContain(rewindCase.says);
      expect(lab.psql('standby', 'SELECT pg_is_in_recovery()')).toBe('t');
      expect(lab.psql('standby', `SELECT note FROM t WHERE id = ${written}`, 'appdb')).toBe('written on the primary after the fork');
      expect(lab.psql('standby', `SELECT count(*) FROM t WHERE id = ${stray}`, 'appdb')).toBe('0');
      await expectRowArrives(lab);
    }, slow);
  }
});

describe.each(refused.map((pair) => [pair.id, pair] as const))('%s', (_id, pair) => {
  const lab = new MatrixLab(pair);
  beforeAll(() => lab.up(), slow);

  it('is refused before any change, naming both major versions', async () => {
    const before = [lab.psql('primary', 'SELECT rolname FROM pg_roles ORDER BY 1'), systemId(lab, 'standby')];
    const result = await runCli(['setup', '--yes', '--restart-primary', ...lab.flags()], { PGREPL_PASSWORD: 'matrix-password' });
    expect(result.code).not.toBe(0);
    const primaryMajor = hostKinds[pair.primary].major;
    const standbyMajor = hostKinds[pair.standby].major;
    expect(result.stdout + result.stderr).toMatch(new RegExp(`primary ${primaryMajor}\\D.*standby ${standbyMajor}\\D|PostgreSQL ${primaryMajor}\\D.*PostgreSQL ${standbyMajor}\\D`));
    expect([lab.psql('primary', 'SELECT rolname FROM pg_roles ORDER BY 1'), systemId(lab, 'standby')]).toEqual(before);
  }, slow);
});
