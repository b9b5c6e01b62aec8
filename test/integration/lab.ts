import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');
const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');

/** `lab.sh env` of the instance selected by PGW_LAB (0-9, default 0), read once at import. */
function labEnv(): Record<string, string> {
  const out = execFileSync('bash', [labScript, 'env'], { encoding: 'utf8', env: process.env });
  const env: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  for (const name of ['LAB_PRIMARY_IP', 'LAB_STANDBY_IP', 'LAB_KEY', 'LAB_KNOWN_HOSTS', 'LAB_CONFIG', 'LAB_DIR', 'LAB_SUDOPW_USER', 'LAB_SUDOPW_PASSWORD']) {
    if (!env[name]) throw new Error(`lab.sh env printed no ${name}:\n${out}`);
  }
  return env;
}

const env = labEnv();

/** The two-host lab built by test/lab/lab.sh (network + mount namespaces, sshd, PostgreSQL). */
export const lab = {
  primaryIp: env.LAB_PRIMARY_IP,
  standbyIp: env.LAB_STANDBY_IP,
  key: env.LAB_KEY,
  knownHosts: env.LAB_KNOWN_HOSTS,
  config: env.LAB_CONFIG,
  hostKeyPub: (host: 'primary' | 'standby', type = 'ed25519') => join(env.LAB_DIR, host, 'ssh', `ssh_host_${type}_key.pub`),
  dir: env.LAB_DIR,
  /** A user whose sudo asks for a password, and that password. */
  sudoUser: env.LAB_SUDOPW_USER,
  sudoPassword: env.LAB_SUDOPW_PASSWORD,
  /** This instance's own sudo user (made by ownSudoUser()) and its sudoers file: a rule a test may take away, as no other instance uses it. */
  ownSudoUser: env.LAB_OWN_SUDO_USER,
  ownSudoers: env.LAB_OWN_SUDOERS,
};

/** This instance's own sudo user, created or its rule put back (lab.sh sudo-user). */
export function ownSudoUser(): string {
  return execFileSync('bash', [labScript, 'sudo-user'], { encoding: 'utf8' }).trim();
}

/** A string (e.g. a lab address) as a literal inside a RegExp. */
export const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** RegExp source matching either lab host's address (one capture group), e.g. `(10\.77\.0\.11|10\.77\.0\.12)`. */
export const eitherLabIp = `(${escapeRegExp(lab.primaryIp)}|${escapeRegExp(lab.standbyIp)})`;

export function labUp(): void {
  execFileSync('bash', [labScript, 'up'], { stdio: 'inherit' });
}

/** A fresh pair: the lab up (whichever test file runs first) and both clusters re-created. */
export function labReset(): void {
  labUp();
  execFileSync('bash', [labScript, 'reset'], { stdio: 'inherit' });
}

/**
 * A fresh lab with `count` standbys (PGW_LAB_STANDBYS; the extra ones are standby2, standby3):
 * up, and every host's servers re-created. Returns the extra standbys' addresses. The next
 * file's labUp() removes them again.
 */
export function labResetWithStandbys(count: 2 | 3): string[] {
  const addresses = labUpWithStandbys(count);
  execFileSync('bash', [labScript, 'reset'], { stdio: 'inherit', env: { ...process.env, PGW_LAB_STANDBYS: String(count) } });
  return addresses;
}

/** The lab up with `count` standbys as it is (no reset): the extra standbys' addresses. */
export function labUpWithStandbys(count: 2 | 3): string[] {
  const withStandbys = { ...process.env, PGW_LAB_STANDBYS: String(count) };
  execFileSync('bash', [labScript, 'up'], { stdio: 'inherit', env: withStandbys });
  const out = execFileSync('bash', [labScript, 'env'], { encoding: 'utf8', env: withStandbys });
  return [...out.matchAll(/^LAB_STANDBY[23]_IP=(.+)$/gm)].map((match) => match[1]);
}

export type LabHost = 'primary' | 'standby' | 'standby2' | 'standby3';

/** Runs a command inside a lab host as root; returns stdout. */
export function inHost(host: LabHost, argv: string[], env: Record<string, string> = {}): string {
  return execFileSync('bash', [labScript, 'exec', host, ...argv], { encoding: 'utf8', env: { ...process.env, ...env } });
}

/**
 * Stops (SIGSTOP) every pg_basebackup on the standby once the clone's side directory
 * `sideDirectory` has a base/ (the copy runs), so that a small primary's copy cannot end before
 * a fault lands. Resolves once paused; rejects after 120 s without a copy.
 */
export function pauseCloneOnceCopying(sideDirectory: string): Promise<void> {
  const script =
    'i=0; until [ -d "$1/base" ]; do i=$((i + 1)); [ "$i" -lt 12000 ] || exit 1; sleep 0.01; done; pkill -STOP -x pg_basebackup; ' +
    // sudo, which runs it, stops itself with its stopped child: wait for that (at most 5 s).
    'i=0; until ps -o stat= -C sudo | grep -q "^T"; do i=$((i + 1)); [ "$i" -lt 500 ] || break; sleep 0.01; done';
  return new Promise((resolve, reject) =>
    execFile('bash', [labScript, 'exec', 'standby', 'sh', '-c', script, 'pause', sideDirectory], (error) => (error ? reject(new Error(`no clone copying into ${sideDirectory} within 120 s`)) : resolve())),
  );
}

/** Lets a clone paused by pauseCloneOnceCopying go on: pg_basebackup, then the sudo that stopped with it. */
export function resumePausedClone(): void {
  inHost('standby', ['pkill', '-CONT', '-x', 'pg_basebackup']);
  inHost('standby', ['pkill', '-CONT', '-x', 'sudo']);
}

/** psql as postgres on the lab cluster of that host. */
export function psqlIn(host: LabHost, sql: string, database = 'postgres'): string {
  const port = host === 'primary' ? '5433' : '5432';
  return inHost(host, ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', port, '-d', database, '-c', sql]).trim();
}

/**
 * psql as postgres on the lab cluster of that host, not waited for: a statement that may block
 * (a commit held by synchronous replication) runs while the test goes on; resolves when it ends.
 */
export function psqlInBackground(host: LabHost, sql: string, database = 'postgres'): Promise<CliResult> {
  const port = host === 'primary' ? '5433' : '5432';
  return exited(promisify(execFile)('bash', [labScript, 'exec', host, 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', port, '-d', database, '-c', sql], { env: process.env }));
}

/** How a child process ended, with its exit code whether it failed or not. */
async function exited(child: Promise<{ stdout: string; stderr: string }>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI, as an operator runs it (no TTY, like CI). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return exited(
    promisify(execFile)('node', [cli, ...args], {
      env: { ...process.env, SSH_AUTH_SOCK: undefined, ...env },
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
}

export const labFlags = (overrides: string[] = []) => ['--config', lab.config, ...overrides];

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

export const sshFingerprint = (pubFile: string) => execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' }).split(' ')[1];
