import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faults } from '../faults/matrix.js';
import { inHost, lab, labFlags, labReset, ownSudoUser, pauseCloneOnceCopying, psqlIn, resumePausedClone, runCli, type CliResult } from './lab.js';

/**
 * The fault matrix (test/faults/matrix.ts) on one real lab pair: each fault is injected while a
 * headless setup runs, at the moment the run's own output shows it reached that step; the run
 * must end as the matrix says, in the product's words, and the same command run again must
 * finish the job (streaming, a new row arrives on the standby). A fault that stops the run
 * before the clone is often followed by a fault the next run rides out: that run, which clones
 * and finishes, is the first fault's next run too, so one clone serves both rows.
 */

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');
const secretEnv = { PGREPL_PASSWORD: 'faults-lab-password' };
const setupArgs = ['setup', '--yes', '--restart-primary', ...labFlags()];
/** The same, logged in as this lab instance's own sudo user, whose rule a fault may take away. */
const ownSudoSetupArgs = ['setup', '--yes', '--restart-primary', ...labFlags(['--primary', `${lab.ownSudoUser}@${lab.primaryIp}`, '--standby', `${lab.ownSudoUser}@${lab.standbyIp}`])];
const primaryAutoConf = '/var/lib/postgresql/15/prod/postgresql.auto.conf';
const standbyData = '/var/lib/postgresql/15/main';
const standbyConf = '/etc/postgresql/15/main/postgresql.conf';
/** The copy is running: pg_basebackup -v says so before it copies the data directory. */
const cloneCopying = /write-ahead log start point/;
const labInstance = process.env.PGW_LAB || '0';
const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');
/** A host-side script (sh -c, with `args` as $1…) started now; resolves when it has ended. */
function onHost(host: 'primary' | 'standby', script: string, ...args: string[]): Promise<void> {
  const child = spawn('bash', [labScript, 'exec', host, 'sh', '-c', script, 'host-side', ...args], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('close', () => resolve()));
}

/** Once file $2 holds $3, file $1 (a sudo rule) is removed; gives up after 120 s. */
const removeOnceWritten = 'i=0; until grep -q -- "$3" "$2"; do i=$((i + 1)); [ "$i" -lt 12000 ] || exit 1; sleep 0.01; done; rm -f -- "$1"';

/** Once the host's PostgreSQL has stopped (the standby's own, stopped by the clone), file $1 (a sudo rule) is removed; gives up after 120 s. */
const removeOnceStopped = 'i=0; while pgrep -u postgres -x postgres >/dev/null; do i=$((i + 1)); [ "$i" -lt 12000 ] || exit 1; sleep 0.01; done; rm -f -- "$1"';

/**
 * Runs `setup` as the lab's own sudo user while `remover` (a host-side command, started first)
 * takes its sudo rule away; the rule is put back afterwards, whatever happened.
 */
async function withSudoRuleRemoved(host: 'primary' | 'standby', remover: string, ...args: string[]): Promise<CliResult> {
  ownSudoUser();
  const removed = onHost(host, remover, lab.ownSudoers, ...args);
  try {
    const result = await runCli(ownSudoSetupArgs, secretEnv);
    await removed;
    return result;
  } finally {
    ownSudoUser();
  }
}

/** Until a process matching `pgrep` (its arguments) runs on the host; gives up after 120 s. */
const untilRunning = (pgrep: string) => `i=0; until pgrep ${pgrep} >/dev/null; do i=$((i + 1)); [ "$i" -lt 12000 ] || exit 1; sleep 0.01; done`;
/** Once a pg_ctl runs on the host, every process of its PostgreSQL is stopped (SIGSTOP). */
const freezeOnceRestarting = `${untilRunning('-x pg_ctl')}; pkill -STOP -u postgres -x postgres`;
/** Until pg_ctl start runs on the host (not pg_ctl status, which steps run too; [s] keeps this script's own text from matching). */
const untilStarting = untilRunning("-f 'pg_ctl [s]tart'");

/** The root-namespace end of a lab host's network link (test/lab/lab.sh veth_name). */
const linkOf = (host: 'primary' | 'standby') => `pgwv${labInstance === '0' ? '' : labInstance}-${host}`;
const setLink = (host: 'primary' | 'standby', state: 'up' | 'down') => execFileSync('ip', ['link', 'set', linkOf(host), state]);

/** ssh2's, Node's and the OS's own words, which must never be all a message says. */
const rawLibraryText = /Not connected|Keepalive timeout|No response from server|ECONNRESET|EPIPE|Connection terminated unexpectedly|Channel open failure/;

interface Running {
  pid: number;
  done: Promise<CliResult>;
  /** Resolves once the run's stderr matches `pattern` (the run reached that point). */
  reaches(pattern: RegExp): Promise<void>;
  signal(name: NodeJS.Signals): void;
}

/** The CLI started in the background, its output watched as it arrives. */
function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn('node', [cli, ...args], { env: { ...process.env, SSH_AUTH_SOCK: undefined, ...secretEnv, ...env } });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    check();
  });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return {
    pid: child.pid!,
    done,
    reaches: (pattern) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ pattern, resolve });
          check();
        }),
        done.then((result) => {
          throw new Error(`the run ended (exit ${result.code}) before printing ${pattern}:\n${result.stdout}\n${result.stderr}`);
        }),
      ]),
    signal: (name) => child.kill(name),
  };
}

/**
 * Ends the wizard runs this file started that are still going, as an operator would: SIGTERM,
 * which ends their remote commands too, then SIGKILL after 60 s.
 */
async function endLeftoverRuns(): Promise<void> {
  const leftovers = (() => {
    try {
      return execFileSync('pgrep', ['-P', String(process.pid), '-f', cli], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    } catch {
      return []; // pgrep: none
    }
  })();
  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of leftovers) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (leftovers.some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  for (const pid of leftovers.filter(running)) process.kill(pid, 'SIGKILL');
}

/** Waits for `condition` with a deadline (no fixed sleeps). */
async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const standbySystemIdentifier = () =>
  /Database system identifier:\s+(\d+)/.exec(inHost('standby', ['runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_controldata', '-D', standbyData]))?.[1];

/** The standby's own cluster again (a new initdb, so the next run clones); the primary keeps what earlier runs set up. */
function freshStandby(): void {
  inHost('standby', ['sh', '-c', 'pg_dropcluster --stop 15 main && pg_createcluster 15 main --start -- --no-sync >/dev/null && rm -rf /var/lib/postgresql/15/main.pgrepl-*']);
}

/** What the operator reads: every fragment the matrix names, in the run's output, and no library's raw words. */
function expectOperatorSees(result: CliResult, id: string): void {
  const fault = faults.find((f) => f.id === id)!;
  const output = result.stdout + result.stderr;
  const exit = { 'rides it out (exit 0)': 0, 'stops (exit 1)': 1, 'stops (exit 130)': 130 }[fault.outcome];
  expect(result.code, output).toBe(exit);
  for (const fragment of fault.sees) expect(output, fragment).toContain(fragment);
  const failures = output.split('\n').filter((line) => /error:|\[FAILED\]|lost the SSH/.test(line));
  for (const line of failures) expect(line).not.toMatch(rawLibraryText);
}

/** The job is done: the standby streams, and a row written now arrives on it. */
async function expectStreams(marker: number): Promise<void> {
  expect(psqlIn('primary', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`)).toBe('streaming');
  psqlIn('primary', `INSERT INTO t VALUES (${marker}, 'after a fault')`, 'appdb');
  await until(() => psqlIn('standby', `SELECT note FROM t WHERE id = ${marker}`, 'appdb') === 'after a fault', 'the row reaching the standby', 30_000);
}

/** The same command again finishes: exit 0, and the job is done. */
async function expectNextRunFinishes(marker: number, args = setupArgs): Promise<void> {
  const result = await runCli(args, secretEnv);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  await expectStreams(marker);
}

/** Fails the run of one fault while the standby's old data stays as it was. */
async function expectStandbyUntouched(identifierBefore: string | undefined, result: CliResult): Promise<void> {
  expect(standbySystemIdentifier(), result.stdout + result.stderr).toBe(identifierBefore);
}

/**
 * A fault that stops a setup cloning a fresh standby: `fault` runs setup and strikes (putting
 * back what it broke); the run ends as the matrix row `id` says, the standby's old data stays as
 * it was, and the same command run again finishes the job (`nextRunMarker`; without it, a later
 * row's run is this one's next run).
 */
async function stopsThenNextRunFinishes(id: string, fault: () => Promise<CliResult>, nextRunMarker?: number): Promise<void> {
  freshStandby();
  const before = standbySystemIdentifier();
  const result = await fault();
  expectOperatorSees(result, id);
  await expectStandbyUntouched(before, result);
  if (nextRunMarker !== undefined) await expectNextRunFinishes(nextRunMarker);
}

/**
 * A host's link down for 5 s (the fault is the 5 s itself) while the clone of a standby not yet
 * cloned copies: the run rides it out and finishes the job.
 */
async function linkBlipAtClone(host: 'primary' | 'standby', id: string, marker: number, args = setupArgs): Promise<void> {
  const run = start(args);
  await run.reaches(cloneCopying);
  setLink(host, 'down');
  await new Promise((resolve) => setTimeout(resolve, 5000));
  setLink(host, 'up');
  const result = await run.done;
  expectOperatorSees(result, id);
  await expectStreams(marker);
}

/** A host's link down while the clone copies, until the run gives up (PGREPL_SSH_TIMEOUT=6). */
async function linkDownAtClone(host: 'primary' | 'standby'): Promise<CliResult> {
  const run = start(setupArgs, { PGREPL_SSH_TIMEOUT: '6' });
  await run.reaches(cloneCopying);
  setLink(host, 'down');
  try {
    return await run.done;
  } finally {
    setLink(host, 'up');
  }
}

/** Stops the standby of the set-up pair: only its start is left for setup to do. */
const stopStandby = () => inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);

/** The set-up primary listening on localhost only: setup has to set listen_addresses and restart it. */
function primaryNeedsRestart(): void {
  psqlIn('primary', 'ALTER SYSTEM RESET listen_addresses');
  inHost('primary', ['pg_ctlcluster', '15', 'prod', 'restart']);
}

/** One lab scenario: the matrix rows it proves, in order (a later row's run may be an earlier row's next run). */
interface Case {
  rows: string[];
  run(marker: number): Promise<void>;
}

/** In the order they run: each starts from what the one before left. */
const cases: Case[] = [
  {
    rows: ['ssh-killed-at-primary-restart', 'standby-link-blip-at-clone'],
    async run(marker) {
      // A fresh pair: listen_addresses and wal_senders need the primary's restart. The login's sshd
      // processes (privilege-separated, running as the login user) in the primary's own PID namespace
      // are killed on the host once the restart's pg_ctl start runs (its stop is over; the start goes
      // on by itself): a restart takes about a second, less than a loaded machine may need to start a
      // command from here once the run's output says so.
      const killed = onHost('primary', `${untilStarting}; for pid in $(pgrep -u labadmin -x sshd); do kill -KILL "$pid"; done`);
      const run = start(setupArgs);
      await killed;
      expectOperatorSees(await run.done, 'ssh-killed-at-primary-restart');
      // Its next run clones the standby: with the standby's link down 5 s meanwhile, it rides that out and finishes.
      await linkBlipAtClone('standby', 'standby-link-blip-at-clone', marker);
    },
  },
  {
    rows: ['sigterm-at-primary-restart-hung'],
    async run(marker) {
      primaryNeedsRestart();
      // As pg_ctl starts, every process of the server is held still (on the host: a loaded machine
      // may need longer to start a command from here than pg_ctl needs to restart the server).
      const frozen = onHost('primary', freezeOnceRestarting);
      const run = start(setupArgs);
      let result: CliResult;
      let leftRunning: string;
      try {
        await frozen;
        await run.reaches(/restarting the primary for/);
        run.signal('SIGTERM');
        result = await run.done;
        // Read before the server is resumed: the run ended its command, not the server's answer.
        leftRunning = inHost('primary', ['sh', '-c', 'pgrep -a -x pg_ctlcluster; true']);
      } finally {
        inHost('primary', ['pkill', '-CONT', '-u', 'postgres', '-x', 'postgres']);
      }
      expectOperatorSees(result, 'sigterm-at-primary-restart-hung');
      expect(leftRunning.trim(), 'pg_ctlcluster left waiting on the primary').toBe('');
      // What the message says to do: its stop had begun (pg_ctl had asked it to stop), so it is down; start it.
      inHost('primary', ['sh', '-c', 'pg_ctlcluster 15 prod stop 2>/dev/null; pg_ctlcluster 15 prod start']);
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['sudo-rule-removed-at-primary-restart'],
    async run(marker) {
      primaryNeedsRestart();
      const startedAt = psqlIn('primary', 'SELECT pg_postmaster_start_time()');
      // Once ALTER SYSTEM wrote the setting (the prechecks passed long before), the rule goes.
      const result = await withSudoRuleRemoved('primary', removeOnceWritten, primaryAutoConf, 'listen_addresses');
      expectOperatorSees(result, 'sudo-rule-removed-at-primary-restart');
      expect(psqlIn('primary', 'SELECT pg_postmaster_start_time()'), 'the primary was restarted').toBe(startedAt);
      await expectNextRunFinishes(marker, ownSudoSetupArgs);
    },
  },
  {
    rows: ['sudo-rule-removed-at-clone', 'primary-link-blip-at-clone'],
    async run(marker) {
      // Once the clone stopped the standby's server (sudo let it), what it runs next is refused.
      await stopsThenNextRunFinishes('sudo-rule-removed-at-clone', () => withSudoRuleRemoved('standby', removeOnceStopped));
      // Its next run (the same login, the rule back) clones, riding out the primary's link down 5 s meanwhile.
      await linkBlipAtClone('primary', 'primary-link-blip-at-clone', marker, ownSudoSetupArgs);
    },
  },
  {
    rows: ['standby-link-down-at-clone', 'second-run-same-pair', 'second-run-same-primary'],
    async run(marker) {
      await stopsThenNextRunFinishes('standby-link-down-at-clone', () => linkDownAtClone('standby'));
      // Another standby of the same primary: a cluster of its own on the standby's host, with a name of its own.
      inHost('standby', ['sh', '-c', 'pg_createcluster 15 second -- --no-sync >/dev/null']);
      try {
        // The next run clones; held still mid-clone (however fast this machine is; its locks live on the hosts) while two more try.
        const first = start(setupArgs);
        await first.reaches(cloneCopying);
        first.signal('SIGSTOP');
        let samePair: CliResult;
        let otherStandby: CliResult;
        try {
          [samePair, otherStandby] = await Promise.all([
            runCli(setupArgs, secretEnv),
            runCli(['setup', '--yes', '--restart-primary', ...labFlags(['--standby-cluster', '15/second', '--slot', 'second'])], secretEnv),
          ]);
        } finally {
          first.signal('SIGCONT');
        }
        expectOperatorSees(samePair, 'second-run-same-pair');
        expectOperatorSees(otherStandby, 'second-run-same-primary');
        // Named: the first run's own process.
        expect(otherStandby.stderr).toContain(`pid ${first.pid} on`);
        const firstResult = await first.done;
        expect(firstResult.code, firstResult.stdout + firstResult.stderr).toBe(0);
        await expectStreams(marker);
      } finally {
        inHost('standby', ['pg_dropcluster', '15', 'second']);
      }
    },
  },
  {
    rows: ['primary-link-down-at-clone'],
    async run(marker) {
      await stopsThenNextRunFinishes('primary-link-down-at-clone', () => linkDownAtClone('primary'), marker);
    },
  },
  {
    rows: ['primary-restarted-at-clone'],
    async run(marker) {
      // The small lab primary is copied in about a second: a restart started from here once the
      // run prints its start point landed after the copy had ended. pg_basebackup is paused on
      // the host as the copy begins, the primary restarts, then the copy goes on and finds it gone.
      await stopsThenNextRunFinishes(
        'primary-restarted-at-clone',
        async () => {
          const paused = pauseCloneOnceCopying(`${standbyData}.pgrepl-new`);
          const run = start(setupArgs);
          await paused;
          inHost('primary', ['pg_ctlcluster', '-m', 'immediate', '15', 'prod', 'restart']);
          resumePausedClone();
          return run.done;
        },
        marker,
      );
    },
  },
  {
    rows: ['standby-disk-full-at-clone'],
    async run(marker) {
      freshStandby();
      // A small filesystem of its own for the standby's data directory and the copy beside it.
      const parent = '/var/lib/postgresql/15';
      inHost('standby', ['sh', '-c', `set -e
        pg_ctlcluster 15 main stop
        rm -rf /root/pg15 && cp -a ${parent} /root/pg15
        mount -t tmpfs -o size=400m,mode=0755 pgw-small ${parent}
        cp -a /root/pg15/. ${parent}/ && rm -rf /root/pg15
        pg_ctlcluster 15 main start`]);
      try {
        const before = standbySystemIdentifier();
        // Another writer fills the filesystem once the copy has begun (the free-space precheck
        // passed). The small lab primary is copied in about a second, so a writer racing it could
        // come too late: pg_basebackup is paused on the host as the copy begins, the filesystem
        // filled, then the copy goes on and meets it full.
        const paused = pauseCloneOnceCopying(`${standbyData}.pgrepl-new`);
        const running = runCli(setupArgs, secretEnv);
        await paused;
        inHost('standby', ['sh', '-c', 'dd if=/dev/zero of="$1" bs=1M status=none 2>/dev/null; true', 'fill', `${parent}/filler`]);
        resumePausedClone();
        const result = await running;
        expectOperatorSees(result, 'standby-disk-full-at-clone');
        await expectStandbyUntouched(before, result);
        expect(inHost('standby', ['sh', '-c', `ls -d ${standbyData}.pgrepl-new 2>/dev/null || true`]).trim()).toBe('');
        inHost('standby', ['rm', '-f', `${parent}/filler`]);
        await expectNextRunFinishes(marker);
      } finally {
        inHost('standby', ['sh', '-c', `pg_ctlcluster 15 main stop 2>/dev/null; umount ${parent}; rm -f ${parent}/filler; true`]);
      }
    },
  },
  {
    rows: ['sighup-at-clone'],
    async run(marker) {
      await stopsThenNextRunFinishes(
        'sighup-at-clone',
        async () => {
          const run = start(setupArgs);
          await run.reaches(cloneCopying);
          run.signal('SIGHUP');
          return run.done;
        },
        marker,
      );
    },
  },
  {
    rows: ['standby-bad-setting-at-start'],
    async run(marker) {
      stopStandby();
      // Valid to postgres -C (the recovery step reads the settings with it), fatal at start.
      inHost('standby', ['sh', '-c', `echo "huge_pages = on" >> ${standbyConf}`]);
      let result: CliResult;
      try {
        result = await runCli(setupArgs, secretEnv);
      } finally {
        inHost('standby', ['sed', '-i', '/^huge_pages = on$/d', standbyConf]);
      }
      expectOperatorSees(result, 'standby-bad-setting-at-start');
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['sigint-at-standby-start'],
    async run(marker) {
      stopStandby();
      // Interrupted once the start is under way: pg_ctl start runs on the host.
      const starting = onHost('standby', untilStarting);
      const run = start(setupArgs);
      await starting;
      run.signal('SIGINT');
      const result = await run.done;
      expectOperatorSees(result, 'sigint-at-standby-start');
      // What the message says: the start goes on by itself; nobody starts the standby here.
      await until(() => inHost('standby', ['sh', '-c', 'runuser -u postgres -- psql -X -At -p 5432 -c "SELECT pg_is_in_recovery()" 2>/dev/null || true']).trim() === 't', 'the standby up in recovery by itself');
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['standby-sshd-stopped-at-start'],
    async run(marker) {
      stopStandby();
      // The listener and every session (the host's own PID namespace holds only its sshd processes),
      // killed on the host once pg_ctl start runs: the start and the check after it take about a second.
      const killed = onHost('standby', `${untilStarting}; for pid in $(pgrep -x sshd); do kill -KILL "$pid"; done`);
      const run = start(setupArgs);
      await killed;
      let result: CliResult;
      let meanwhile: CliResult;
      try {
        result = await run.done;
        meanwhile = await runCli(setupArgs, secretEnv);
      } finally {
        inHost('standby', ['/usr/sbin/sshd', '-f', join(lab.dir, 'standby', 'ssh', 'sshd_config'), '-E', join(lab.dir, 'standby', 'sshd.log')]);
      }
      expectOperatorSees(result, 'standby-sshd-stopped-at-start');
      expect(meanwhile.code, meanwhile.stderr).toBe(1);
      expect(meanwhile.stderr).toContain('nothing listens there (sshd not running, or wrong port)');
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['primary-server-hung-before-run'],
    async run(marker) {
      // The host answers, its PostgreSQL does not: the postmaster and every backend held still.
      inHost('primary', ['pkill', '-STOP', '-u', 'postgres', '-x', 'postgres']);
      let result: CliResult;
      try {
        result = await runCli(setupArgs, { ...secretEnv, PGREPL_SSH_TIMEOUT: '6' });
      } finally {
        inHost('primary', ['pkill', '-CONT', '-u', 'postgres', '-x', 'postgres']);
      }
      expectOperatorSees(result, 'primary-server-hung-before-run');
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['standby-replay-paused-at-verify'],
    async run(marker) {
      psqlIn('standby', 'SELECT pg_wal_replay_pause()');
      let result: CliResult;
      try {
        result = await runCli(setupArgs, { ...secretEnv, PGREPL_STREAMING_TIMEOUT: '5' });
      } finally {
        psqlIn('standby', 'SELECT pg_wal_replay_resume()');
      }
      expectOperatorSees(result, 'standby-replay-paused-at-verify');
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['primary-hba-immutable'],
    async run(marker) {
      // The standby's rule gone (reloaded), so the step has to write the file again.
      const hba = '/etc/postgresql/15/prod/pg_hba.conf';
      inHost('primary', ['sed', '-E', '-i', '/^host[[:space:]]+replication[[:space:]]+repl[[:space:]]/d', hba]);
      inHost('primary', ['pg_ctlcluster', '15', 'prod', 'reload']);
      const before = inHost('primary', ['cat', hba]);
      inHost('primary', ['chattr', '+i', hba]);
      let result: CliResult;
      try {
        result = await runCli(setupArgs, secretEnv);
      } finally {
        inHost('primary', ['chattr', '-i', hba]);
      }
      expectOperatorSees(result, 'primary-hba-immutable');
      expect(inHost('primary', ['cat', hba])).toBe(before);
      await expectNextRunFinishes(marker);
    },
  },
  {
    rows: ['doctor-fix-during-setup'],
    async run(marker) {
      // Setup has the standby to start, doctor --fix a repair to run.
      stopStandby();
      const setup = start(setupArgs);
      // Its locks are taken before the first step starts.
      await setup.reaches(/==> /);
      setup.signal('SIGSTOP');
      let doctor: CliResult;
      try {
        doctor = await runCli(['doctor', '--fix', '--yes', ...labFlags()], secretEnv);
      } finally {
        setup.signal('SIGCONT');
      }
      expectOperatorSees(doctor, 'doctor-fix-during-setup');
      // The setup it waited for finishes the job.
      const setupResult = await setup.done;
      expect(setupResult.code, setupResult.stdout + setupResult.stderr).toBe(0);
      await expectStreams(marker);
    },
  },
  {
    rows: ['lock-left-by-dead-run'],
    async run(marker) {
      freshStandby();
      const first = start(setupArgs);
      await first.reaches(cloneCopying);
      first.signal('SIGKILL');
      await first.done;
      // The next run takes the lock over and finishes the job.
      const result = await runCli(setupArgs, secretEnv);
      expectOperatorSees(result, 'lock-left-by-dead-run');
      await expectStreams(marker);
    },
  },
];

describe('faults at every step: the run stops (or rides it out) in its own words, and the next run finishes', () => {
  beforeAll(() => {
    labReset();
    // Big enough (about 160 MB) that the clone is still copying when the fault strikes.
    inHost('primary', ['runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pgbench', '-q', '-i', '-s', '10', '-p', '5433', 'appdb']);
  });

  // A case that ran out of time leaves its run going; it must not act on the pair under the next case.
  afterEach(endLeftoverRuns, 120_000);

  afterAll(() => {
    setLink('standby', 'up');
    setLink('primary', 'up');
  });

  it('has a test for every fault of the matrix, and the matrix a row for every test', () => {
    expect(cases.flatMap((c) => c.rows).sort()).toEqual(faults.map((f) => f.id).sort());
  });

  cases.forEach((scenario, index) => {
    const rows = scenario.rows.map((id) => faults.find((f) => f.id === id)!);
    it(rows.map((f) => `${f.fault}, at ${f.at}: ${f.outcome}`).join('; then '), () => scenario.run(5000 + index), 360_000 * rows.length);
  });
});
