import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, labReset, psqlIn, runCli } from './lab.js';

/**
 * An operator whose sudo rule lets them become postgres and nothing else, on the Debian
 * layout: the rules come from inspect's own output, installed as printed. The lab user
 * `pgonly` exists on every lab host of this machine; /etc/sudoers.d is shared by them all,
 * so the file only ever holds what inspect prints for pgonly (the same in every instance).
 */
const sudoersFile = '/etc/sudoers.d/pgw-lab-pgonly';
const asPgonly = ['--primary', `pgonly@${lab.primaryIp}`, '--standby', `pgonly@${lab.standbyIp}`];
const secretEnv = { PGREPL_PASSWORD: 'least-privilege-pass' };
// A directory root must create: its parent /opt is root's. Per lab instance, as /opt is the machine's.
const archiveDir = `/opt/pgw-lab${process.env.PGW_LAB ?? '0'}-wal-archive`;

/** The rules inspect prints to grant (its uncommented sudoers lines), both hosts together. */
function grantedRules(inspectOutput: string): string[] {
  const rules = inspectOutput.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('pgonly ALL='));
  return [...new Set(rules)];
}

function installSudoers(rules: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-sudoers-'));
  try {
    const file = join(dir, 'pgonly');
    writeFileSync(file, `${rules.join('\n')}\n`);
    execFileSync('visudo', ['-c', '-q', '-f', file]);
    execFileSync('install', ['-m', '0440', '-o', 'root', '-g', 'root', file, sudoersFile]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until(fact: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fact()) {
    if (Date.now() > deadline) throw new Error(`not true within ${ms} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const autoConf = () => inHost('primary', ['md5sum', '/var/lib/postgresql/15/prod/postgresql.auto.conf']);

describe('sudo to postgres only, or logged in as postgres, on a Debian-packaged pair', () => {
  beforeAll(() => {
    labReset();
    inHost('primary', ['rm', '-rf', '--', archiveDir]);
  }, 600_000);
  afterAll(() => {
    inHost('primary', ['rm', '-rf', '--', archiveDir]);
  });

  it('sets up a streaming standby with exactly the sudo rules inspect prints', async () => {
    const inspect = await runCli(['inspect', '--sudoers-for', 'pgonly', ...labFlags()]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain('as good as being that user');
    const rules = grantedRules(inspect.stdout);
    expect(rules).toEqual(['pgonly ALL=(postgres) NOPASSWD: ALL']);
    installSudoers(rules);

    const setup = await runCli(['setup', '--yes', '--restart-primary', ...labFlags(asPgonly)], secretEnv);
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    psqlIn('primary', "INSERT INTO t (id, note) VALUES (4242, 'written as pgonly')", 'appdb');
    await until(() => psqlIn('standby', "SELECT count(*) FROM t WHERE note = 'written as pgonly'", 'appdb') === '1', 30_000);
  });

  it('refuses before any change when a step needs root, naming the command, why, and what to run by hand', async () => {
    const before = autoConf();
    const refused = await runCli(['setup', '--yes', '--restart-primary', '--archive-dir', archiveDir, ...labFlags(asPgonly)], secretEnv);
    expect(refused.code).toBe(1);
    const command = `install -d -o postgres -m 0700 -- ${archiveDir}`;
    expect(refused.stdout).toContain(`[FAILED] Prechecks before any change: setup needs root on the primary for "${command}", as a directory it creates`);
    expect(refused.stdout).toContain('lies in a directory the server user may not write, and pgonly may not run it as root (sudo -l says no); nothing was changed');
    expect(refused.stdout).toContain(`fix:   run as root on the primary: ${command}; then run setup again`);
    expect(inHost('primary', ['sh', '-c', `test -e ${archiveDir} && echo there || echo missing`]).trim()).toBe('missing');
    expect(autoConf()).toBe(before);

    // The operator runs the printed command by hand; the same run then goes through.
    inHost('primary', command.split(' '));
    const archived = await runCli(['setup', '--yes', '--restart-primary', '--archive-dir', archiveDir, ...labFlags(asPgonly)], secretEnv);
    expect(archived.code, archived.stdout + archived.stderr).toBe(0);
    expect(psqlIn('primary', 'SHOW archive_mode')).toBe('on');
  });

  it('logged in as postgres itself with a key (no sudo at all): sets up a streaming standby from a fresh pair', async () => {
    labReset();
    const asPostgres = ['--primary', `postgres@${lab.primaryIp}`, '--standby', `postgres@${lab.standbyIp}`];
    const setup = await runCli(['setup', '--yes', '--restart-primary', ...labFlags(asPostgres)], secretEnv);
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    expect(setup.stdout).toContain('replaced /var/lib/postgresql/15/main with a copy of the primary');
    psqlIn('primary', "INSERT INTO t (id, note) VALUES (4343, 'written as postgres')", 'appdb');
    await until(() => psqlIn('standby', "SELECT count(*) FROM t WHERE note = 'written as postgres'", 'appdb') === '1', 30_000);
  }, 600_000);
});
