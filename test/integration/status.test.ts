import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setUpWithWizard, slot } from './doctor-lab.js';
import { inHost, lab, labFlags, psqlIn, runCli, tempDir } from './lab.js';
import { TerminalSession } from './tmux.js';

/**
 * `status` on the real lab pair, set up once by the wizard: a paused replay is flagged while
 * its byte gap grows, a stopped standby's slot retains more and more WAL and the time-to-full
 * appears, and every figure agrees with the server's own views read around it.
 */

const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');
const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');
// First-seen times go to the workstation's XDG state directory: a fresh one for this file.
const stateHome = tempDir('pgrepl-status-state-');

interface StatusDocument {
  healthy: boolean;
  attention: { id: string; host: string; text: string }[];
  primary: { currentLsn: string; walRateBytesPerSecond: number | null; timeToFullSeconds: number | null; walFilesystemFreeBytes: number | null; pgWalBytes: number };
  standbys: { applicationName: string; clientAddr: string; state: string; replayLsn: string; replayGapBytes: number; flushedNotReplayedBytes: number; thisStandby: boolean }[];
  standby: { replayPaused: boolean | null; replayPauseState: string | null; receiverStatus: string | null; senderHost: string | null; slotName: string | null; receivedNotReplayedBytes: number | null; problem: string | null };
  slots: { name: string; active: boolean; retainedBytes: number; holdsWal: boolean; walStatus: string; inactiveSince: string | null; inactiveSinceSource: string | null }[];
}

async function status(flags: string[] = []): Promise<StatusDocument & { code: number; stdout: string }> {
  const result = await runCli(['status', '--json', ...labFlags(flags)], { XDG_STATE_HOME: stateHome });
  try {
    return { ...JSON.parse(result.stdout), code: result.code, stdout: result.stdout };
  } catch {
    throw new Error(`status printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

const psqlAsync = (host: 'primary' | 'standby', sql: string, database = 'postgres') =>
  promisify(execFile)('bash', [labScript, 'exec', host, 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', host === 'primary' ? '5433' : '5432', '-d', database, '-c', sql]);

let nextRow = 1_000_000;

/** Writes rows on the primary, one statement after another, until `work` is done: WAL while status samples. */
async function whileWriting<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const finished = work.finally(() => (done = true));
  while (!done) {
    await psqlAsync('primary', `INSERT INTO t SELECT g, 'status' FROM generate_series(${nextRow}, ${nextRow + 4999}) g`, 'appdb');
    nextRow += 5000;
  }
  return finished;
}

const gapOnPrimary = () => Number(psqlIn('primary', `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`));

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('status on the lab pair', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(setUpWithWizard);
  afterEach(() => {
    terminal?.close();
    terminal = undefined;
  });
  afterAll(() => {
    // Leave the pair running and replaying, whichever test stopped early.
    inHost('standby', ['sh', '-c', 'pg_ctlcluster 15 main start 2>/dev/null; true']);
    psqlIn('standby', 'SELECT pg_wal_replay_resume()');
  });

  it('a streaming pair is healthy (exit 0), and its figures are the servers\' own', async () => {
    const healthy = await status();
    expect(healthy.code, healthy.stdout).toBe(0);
    expect(healthy.healthy).toBe(true);
    const row = healthy.standbys.find((s) => s.thisStandby)!;
    expect(row).toMatchObject({ clientAddr: lab.standbyIp, state: 'streaming', applicationName: psqlIn('primary', `SELECT application_name FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`) });
    expect(healthy.standby).toMatchObject({ receiverStatus: 'streaming', senderHost: lab.primaryIp, slotName: slot, replayPaused: false, replayPauseState: 'not paused' });
    expect(healthy.slots).toEqual([expect.objectContaining({ name: slot, active: true, walStatus: 'reserved' })]);
    expect(healthy.primary.pgWalBytes).toBe(Number(psqlIn('primary', 'SELECT sum(size) FROM pg_ls_waldir()')));
    expect(healthy.primary.walFilesystemFreeBytes).toBeGreaterThan(0);
    // The healthy text (the same lines as the app's) is read in the app's case below; the CLI's text in the paused case.
  });

  it('pg_wal_replay_pause() on the standby: flagged (exit 1) while the byte gap grows, as the primary counts it', async () => {
    psqlIn('standby', 'SELECT pg_wal_replay_pause()');
    psqlIn('primary', `INSERT INTO t SELECT g, 'paused' FROM generate_series(500000, 520000) g`, 'appdb');
    await until(async () => (gapOnPrimary() > 0 ? true : undefined), 'WAL sent but not replayed');
    const before = gapOnPrimary();
    const paused = await status();
    const after = gapOnPrimary();
    expect(paused.code).toBe(1);
    expect(paused.attention.map((a) => a.id)).toEqual(['replay-paused']);
    expect(paused.standby).toMatchObject({ replayPaused: true, replayPauseState: 'paused', receiverStatus: 'streaming' });
    const row = paused.standbys.find((s) => s.thisStandby)!;
    // The gap only grows while replay is paused: what status saw lies between two reads of the primary's own view.
    expect(row.replayGapBytes).toBeGreaterThanOrEqual(before);
    expect(row.replayGapBytes).toBeLessThanOrEqual(after);
    expect(row.replayLsn).toBe(psqlIn('primary', `SELECT replay_lsn FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`));

    psqlIn('primary', `INSERT INTO t SELECT g, 'paused' FROM generate_series(520001, 540000) g`, 'appdb');
    const later = await until(async () => {
      const report = await status();
      return report.standbys.find((s) => s.thisStandby)!.replayGapBytes > row.replayGapBytes ? report : undefined;
    }, 'the byte gap to grow');
    expect(later.code).toBe(1);
    expect(later.standby.replayPaused).toBe(true);

    const text = await runCli(['status', ...labFlags()], { XDG_STATE_HOME: stateHome });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^ {2}REPLAY PAUSED \(paused\): WAL keeps arriving, nothing is applied$/m);
    expect(text.stdout).toContain('✗ replay-paused (standby): replay is paused on the standby (paused)');

    psqlIn('standby', 'SELECT pg_wal_replay_resume()');
    const resumed = await until(async () => {
      const report = await status();
      return report.healthy ? report : undefined;
    }, 'a healthy status after pg_wal_replay_resume()');
    expect(resumed.code).toBe(0);
  });

  it('--watch refreshes until Ctrl-C, one JSON document per refresh, rides out being held still (Ctrl-Z) longer than PGREPL_SSH_TIMEOUT, and exits with the last verdict', async () => {
    const child = spawn('node', [cli, 'status', '--watch', '--json', ...labFlags()], { env: { ...process.env, XDG_STATE_HOME: stateHome, SSH_AUTH_SOCK: '', PGREPL_SSH_TIMEOUT: '4' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const documents = () => stdout.split('\n').filter(Boolean).length;
    const refreshes = (count: number) =>
      until(async () => {
        if (documents() >= count) return true;
        await Promise.race([
          new Promise((resolve) => child.stdout.once('data', resolve)),
          exited.then((code) => Promise.reject(new Error(`status --watch ended (exit ${code}):\n${stderr}`))),
        ]);
      }, `${count} refreshes`);
    await refreshes(1);
    // A query waits on the primary (its server held still: the query's bytes lie unread in its socket) as the run is held still.
    inHost('primary', ['pkill', '-STOP', '-u', 'postgres', '-x', 'postgres']);
    try {
      const queryWaits = () => inHost('primary', ['ss', '-xn']).split('\n').some((line) => /^u_str\s+ESTAB\s+[1-9]\d*\s+\d+\s+\S*\.s\.PGSQL\.5433\s/.test(line));
      await until(async () => (queryWaits() ? true : undefined), 'a query of status waiting on the primary', 30_000);
      child.kill('SIGSTOP');
    } finally {
      inHost('primary', ['pkill', '-CONT', '-u', 'postgres', '-x', 'postgres']);
    }
    // The answer arrives meanwhile; the run stays held 5 s, past its 4 s bound (the 5 s are the fault itself).
    await new Promise((resolve) => setTimeout(resolve, 5000));
    child.kill('SIGCONT');
    await refreshes(documents() + 2);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    expect(stderr).not.toContain('answered nothing');
    const parsed = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as StatusDocument);
    expect(parsed.length).toBeGreaterThanOrEqual(3);
    // Every refresh healthy: none says the primary answered nothing (nor pg's raw words).
    expect(parsed.flatMap((d) => d.attention)).toEqual([]);
    // From the second refresh on, the WAL rate is measured.
    expect(parsed.at(-1)!.primary.walRateBytesPerSecond).not.toBeNull();
  });

  it('in the app: "Watch replication status" shows the pair and the lag chart', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()], { XDG_STATE_HOME: stateHome });
    await terminal.waitFor('What next?');
    await terminal.send(['Down']);
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // Watch replication status
    const screen = await terminal.waitFor(/Not yet replayed on the standby, last 5 min/);
    expect(screen).toMatch(new RegExp(`▶ ${slot} from ${lab.standbyIp.replace(/\./g, '\\.')}: streaming, async`));
    expect(screen).toContain('Result: healthy.');
    await terminal.send(['Escape']);
    await terminal.waitFor('EXIT=130');
  });

  it('a stopped standby: its slot retains more and more WAL, and the time until pg_wal\'s filesystem is full appears', async () => {
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    const first = await whileWriting(status());
    expect(first.code).toBe(1);
    expect(first.attention.map((a) => a.id)).toContain('standby-unavailable');
    const held = first.slots.find((s) => s.name === slot)!;
    expect(held).toMatchObject({ active: false, holdsWal: true, inactiveSinceSource: 'first seen by this workstation' });
    expect(first.primary.walRateBytesPerSecond).toBeGreaterThan(0);
    expect(first.primary.timeToFullSeconds).toBeGreaterThan(0);

    const second = await whileWriting(status());
    const again = second.slots.find((s) => s.name === slot)!;
    expect(again.retainedBytes).toBeGreaterThan(held.retainedBytes);
    // The first-seen time is kept between runs, on the workstation only.
    expect(again.inactiveSince).toBe(held.inactiveSince);
    const kept = JSON.parse(readFileSync(join(stateHome, 'pgrepl-wizard', `status-labadmin@${lab.primaryIp}-15_prod.json`), 'utf8'));
    expect(kept.firstSeenInactive[slot]).toBe(held.inactiveSince);
    expect(inHost('primary', ['find', '/var/lib/postgresql/15/prod', '-name', '*pgrepl-wizard*'])).toBe('');
    // The server's own view of the retained WAL, read right after, is at least what status saw.
    expect(Number(psqlIn('primary', `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = '${slot}'`))).toBeGreaterThanOrEqual(again.retainedBytes);

    inHost('standby', ['pg_ctlcluster', '15', 'main', 'start']);
    const back = await until(async () => {
      const report = await status();
      return report.healthy ? report : undefined;
    }, 'the standby streaming again');
    expect(back.slots.find((s) => s.name === slot)!.active).toBe(true);
    expect(existsSync(join(stateHome, 'pgrepl-wizard'))).toBe(true);
  });
});
