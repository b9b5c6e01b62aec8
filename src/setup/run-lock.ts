import { hostname } from 'node:os';
import { WizardError } from '../errors.js';
import { serverHome } from '../facts/host.js';
import * as privileged from '../remote/commands.js';
import type { Host } from '../remote/host.js';
import type { Node } from '../../steps/contract.js';
import { timed } from '../timings.js';

/**
 * One run at a time per cluster: two runs against the same standby would clone over each
 * other, two against the same primary would edit one pg_hba.conf and postgresql.auto.conf.
 * The lock is an flock held by a process on the host for as long as the run's SSH session
 * lives, in the server user's home (never in the data directory: the clone copies that). Its
 * file names the run that holds it. A run that died leaves the file but no holder: the next
 * run takes it over and says so. A run cut off by the network stops renewing the file, and
 * its holder gives up after `staleSeconds`.
 */

const staleSeconds = 90;
const renewMs = 20_000;

const lockName = (dataDirectory: string) => `run${dataDirectory.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`;

export interface RunLock {
  release(): Promise<void>;
}

/**
 * Runs `work` holding the run lock of every node's cluster, taken in the order given (every
 * run, setup or doctor --fix, gives the primary first, so two runs never each hold one).
 */
export async function holdingRunLocks<T>(nodes: readonly Node[], note: (line: string) => void, work: () => Promise<T>): Promise<T> {
  const locks: RunLock[] = [];
  try {
    // Where each lock lives is asked of every host at once; the locks are then taken in order.
    await Promise.all(nodes.map((node) => serverHome(node.host)));
    for (const node of nodes) locks.push(await timed(`take the run lock on the ${node.host.role}`, () => lockCluster(node.host, node.cluster.dataDirectory, note)));
    return await work();
  } finally {
    await timed('release the run locks', () => Promise.all(locks.map((lock) => lock.release())));
  }
}

/** Takes the lock of `dataDirectory` on `host`, or refuses naming the run that holds it. `note` hears about a dead run's lock taken over. */
export async function lockCluster(host: Host, dataDirectory: string, note: (line: string) => void): Promise<RunLock> {
  const dir = `${await serverHome(host)}/.pgrepl-wizard`;
  const lock = `${dir}/${lockName(dataDirectory)}`;
  const record = `pid ${process.pid} on ${hostname()}, started ${new Date().toISOString()}`;
  const holding = new AbortController();
  let answered: (line: string) => void = () => undefined;
  const answer = new Promise<string>((resolve) => (answered = resolve));
  let stderr = '';
  let holder: string | undefined;
  const held = host
    .exec(privileged.holdRunLock(dir, lockName(dataDirectory), record, staleSeconds), {
      as: 'postgres',
      signal: holding.signal,
      // Held while an interrupted run cleans up; released (holding) at its end.
      outlivesInterruption: true,
      onStderr: (chunk) => {
        stderr += chunk;
        holder ??= /^pgrepl-lock holder (\d+)$/m.exec(stderr)?.[1];
        const line = /^pgrepl-lock (busy|taken) ?(.*)$/m.exec(stderr);
        if (line) answered(line[0]);
      },
    })
    .then(
      (result) => answered(`pgrepl-lock failed ${result.code} ${result.stderr.trim()}`),
      // Released, or the connection went: the run itself reports a lost connection.
      () => answered('pgrepl-lock lost'),
    );
  const [, status, previous] = /^pgrepl-lock (\w+) ?(.*)$/.exec(await answer)!;
  const whereLock = `${host.role} ${host.label}`;
  if (status === 'busy') {
    throw new WizardError(
      `another pgrepl-wizard run is working on the ${host.role}'s cluster in ${dataDirectory} (${previous || 'its record is empty'}); two runs at once would change the same files`,
      whereLock,
      `wait until that run has finished (or stop it), then run the same command again; the lock is ${lock}, held only while that run is alive`,
    );
  }
  if (status !== 'taken') {
    throw new WizardError(`could not take the run lock ${lock} (${previous || 'no reason given'})`, whereLock, `check that ${host.serverUser} can write ${dir} and that flock (util-linux) is installed`);
  }
  if (previous) note(`a lock left by an earlier run that has ended (${previous}) on the ${host.role} was taken over`);
  const renew = setInterval(() => void host.exec(privileged.renewRunLock(lock), { as: 'postgres' }).catch(() => undefined), renewMs);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      const cleared = holder ? await host.exec(privileged.clearRunLock(lock, record, holder), { as: 'postgres' }).catch(() => undefined) : undefined;
      // With the holder's group ended its channel closes by itself; otherwise the group is ended from here.
      if (cleared?.code !== 0) holding.abort();
      await held;
    },
  };
}
