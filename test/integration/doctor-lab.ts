import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { slotNameFor } from '../../src/setup/prepare.js';
import { inHost, lab, labFlags, labReset, psqlIn, runCli, type CliResult } from './lab.js';

/**
 * What the doctor tests share: running the real CLI, waiting for the walreceiver's next
 * attempt to show a breakage, reading findings as an operator reads them, and proving a
 * repaired pair streams rows written on the primary.
 */

const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');

export const password = 'doctor-lab-password';
export const slot = slotNameFor(lab.standbyIp);
export const standbyData = '/var/lib/postgresql/15/main';
export const primaryHba = '/etc/postgresql/15/prod/pg_hba.conf';
export const standbyLog = '/var/log/postgresql/postgresql-15-main.log';
export const primaryLog = '/var/log/postgresql/postgresql-15-prod.log';

/** A fresh lab pair made a streaming pair by `pgrepl-wizard setup`: what each doctor test file breaks. */
export async function setUpWithWizard(): Promise<void> {
  labReset();
  const setup = await runCli(['setup', '--yes', '--restart-primary', ...labFlags()], { PGREPL_PASSWORD: password });
  expect(setup.code, setup.stdout + setup.stderr).toBe(0);
}

export interface JsonEvidence {
  host: string;
  source: string;
  lines: string[];
}

export interface JsonFinding {
  id: string;
  severity: string;
  host: string;
  title: string;
  detail?: string;
  slot?: string;
  evidence: JsonEvidence[];
  fix: { text: string; fixable: boolean; action?: string };
  resolved?: boolean;
}

export interface Report extends CliResult {
  healthy: boolean;
  findings: JsonFinding[];
}

export async function doctor(flags: string[] = [], env: Record<string, string> = {}): Promise<Report> {
  const result = await runCli(['doctor', '--json', ...labFlags(flags)], env);
  let parsed: { healthy: boolean; findings?: JsonFinding[] };
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new Error(`doctor printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  // A failed run prints its error instead of a diagnosis: say it, not "findings is undefined" later.
  if (!parsed.findings) throw new Error(`doctor printed no diagnosis (exit ${result.code}):\n${result.stdout}`);
  return { ...result, ...parsed, findings: parsed.findings };
}

export const errorsOf = (report: Report) => report.findings.filter((f) => f.severity === 'error');
export const errorIds = (report: Report) => errorsOf(report).map((f) => f.id).sort();

/** The finding with that id reported as a current problem (not as info about the past). */
export function current(report: Report, id: string): JsonFinding {
  const found = report.findings.find((f) => f.id === id && f.severity !== 'info');
  if (!found) throw new Error(`no current ${id} finding; got ${JSON.stringify(report.findings.map((f) => [f.id, f.severity]))}`);
  return found;
}

/** Runs doctor until `done` holds for its report (or time is up); returns the last report for the assertions. */
export async function doctorUntil(done: (report: Report) => boolean, timeoutMs = 45_000): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await doctor();
    if (done(report) || Date.now() > deadline) return report;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * Waits until doctor reports these ids as errors, each quoting that host's log: the live
 * checks see a breakage at once, the walreceiver's next attempt (every 5 s) writes the line.
 */
export const diagnoseUntil = (ids: string[], logOf: 'primary' | 'standby' = 'standby') =>
  doctorUntil((report) => ids.every((id) => report.findings.some((f) => f.id === id && f.severity === 'error' && quotedLogLines(f, logOf).length > 0)));

/** Waits until the standby streams again and doctor reports `id` only as resolved. */
export const resolvedUntil = (id: string) => doctorUntil((report) => report.healthy && report.findings.some((f) => f.id === id && f.resolved === true));

/** The evidence lines a finding quotes from that host's log file (server timestamps included). */
export function quotedLogLines(finding: JsonFinding, host: 'primary' | 'standby'): string[] {
  const logFile = host === 'primary' ? primaryLog : standbyLog;
  return finding.evidence.filter((e) => e.host === host && e.source === logFile).flatMap((e) => e.lines);
}

/** A log line as PostgreSQL 15 writes it on the lab: `%m [%p] ` prefix, then the message. */
export const logLine = (message: string) => new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} UTC \\[\\d+\\] .*${message}`);

/** Runs `doctor --fix --yes` headless and returns the second diagnosis it prints. */
export interface RepairStep {
  id: string;
  status: string;
  detail: string;
  error?: { message: string; where: string; fix: string };
}

/** What a repair changed, as the summary lists it (`undo`: how to take it back). */
export interface RepairChange {
  side: string;
  what: string;
  backup?: string;
  undo?: string;
}

export interface Repairs {
  ok: boolean;
  notes: string[];
  steps: RepairStep[];
  changes: RepairChange[];
}

export async function fix(flags: string[] = [], env: Record<string, string> = {}): Promise<Report & { repairs: Repairs }> {
  const report = await doctor(['--fix', '--yes', ...flags], env);
  return report as Report & { repairs: Repairs };
}

export async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = probe();
    } catch {
      value = undefined;
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let nextRow = 10_000;

/** The pair streams: the primary's view says so, and a row written on the primary is read on the standby. */
export async function expectStreamingWithNewRow(): Promise<void> {
  expect(psqlIn('primary', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`)).toBe('streaming');
  const id = nextRow++;
  psqlIn('primary', `INSERT INTO t VALUES (${id}, 'written after doctor')`, 'appdb');
  const note = await until(() => psqlIn('standby', `SELECT note FROM t WHERE id = ${id}`, 'appdb') || undefined, `row ${id} on the standby`);
  expect(note).toBe('written after doctor');
}

/** Ends the primary's walsender for the standby, so its walreceiver connects again (and meets the breakage). */
export const reconnectStandby = () => psqlIn('primary', `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`);

/**
 * Starts pg_receivewal on the primary (on a slot, if given; reporting an application_name, if
 * given), a WAL sender the standby must share; returns its own pid.
 */
export async function startReceiveWal(directory: string, slotName?: string, applicationName?: string): Promise<string> {
  const slotArgs = `${slotName ? `-S ${slotName}` : ''}${applicationName ? ` -d application_name=${applicationName}` : ''}`;
  // The inner shell writes its pid, then becomes pg_receivewal: that pid is the one to stop.
  const script = `rm -rf ${directory} ${directory}.pid && mkdir -p ${directory} && chown postgres: ${directory} && (setsid runuser -u postgres -- sh -c 'echo $$ > ${directory}.pid; exec /usr/lib/postgresql/15/bin/pg_receivewal -p 5433 ${slotArgs} -D ${directory}' >${directory}.log 2>&1 &)`;
  inHost('primary', ['sh', '-c', script]);
  return until(() => inHost('primary', ['cat', `${directory}.pid`]).trim() || undefined, 'pg_receivewal to start');
}

export async function waitForSlotHolder(slotName: string): Promise<void> {
  await until(() => (psqlIn('primary', `SELECT active FROM pg_replication_slots WHERE slot_name = '${slotName}'`) === 't' ? true : undefined), `slot ${slotName} active`);
}

export const stopProcess = (pid: string) => inHost('primary', ['kill', pid]);

/**
 * Ends the next base backup's WAL sender on the primary (pg_terminate_backend) once it has
 * streamed 8 MB, as an operator's pg_terminate_backend or a fast restart would. It waits on the
 * primary itself (5 ms polls, at most 120 s): the lab primary is copied in about a second.
 * Resolves with psql's exit code once it has done so.
 */
export function terminateCopyOnce(): Promise<number | null> {
  const sql = `DO $$
    DECLARE sender int;
    BEGIN
      FOR i IN 1..24000 LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT pid INTO sender FROM pg_stat_progress_basebackup WHERE phase = 'streaming database files' AND backup_streamed > 8 * 1024 * 1024;
        IF sender IS NOT NULL THEN PERFORM pg_terminate_backend(sender); RETURN; END IF;
        PERFORM pg_sleep(0.005);
      END LOOP;
      RAISE EXCEPTION 'no base backup streamed 8 MB within 120 s';
    END $$;`;
  const psql = spawn('bash', [labScript, 'exec', 'primary', 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-q', '-p', '5433', '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'ignore', 'inherit'] });
  psql.stdin.end(sql);
  return new Promise((resolve) => psql.on('close', resolve));
}
