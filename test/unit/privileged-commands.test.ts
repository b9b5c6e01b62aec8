import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as privileged from '../../src/remote/commands.js';
import type { Host } from '../../src/remote/host.js';
import { sudoersLines, withSudoersSection, type PrivilegeLayout } from '../../src/remote/sudoers.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

const registered = Object.values(privileged as Record<string, unknown>).filter((value): value is { runs: readonly privileged.Privilege[] } => typeof value === 'function' && 'runs' in value);

const layouts: PrivilegeLayout[] = [
  { loginUser: 'ops', serverUser: 'postgres', manager: 'pg_ctlcluster', systemd: true },
  { loginUser: 'ops', serverUser: 'postgres', manager: 'pg_ctlcluster', systemd: false },
  { loginUser: 'ops', serverUser: 'postgres', manager: 'systemctl', systemd: true },
  { loginUser: 'ops', serverUser: 'dbadmin', manager: 'pg_ctl', systemd: false },
];

// Never called: it only has to compile, or not.
async function onlyRegisteredCommandsRunPrivileged(host: Host) {
  await host.exec(['id', '-un']);
  await host.exec(privileged.pathExists('/tmp'), { as: 'postgres' });
  // @ts-expect-error an argv nobody registered does not run as root
  await host.exec(['rm', '-rf', '/'], { as: 'root' });
  // @ts-expect-error nor as the server's OS user
  await host.exec(['sh', '-c', 'id'], { as: 'postgres' });
  // @ts-expect-error a command registered for the server user only does not run as root
  await host.exec(privileged.pathExists('/tmp'), { as: 'root' });
}

describe('privileged commands', () => {
  it('can run as root only when listed for the sudoers lines, and root runs no shell or interpreter', () => {
    void onlyRegisteredCommandsRunPrivileged;
    const root = registered.filter((command) => command.runs.includes('root'));
    expect(root.length).toBeGreaterThan(0);
    expect(new Set(root)).toEqual(new Set<unknown>(privileged.rootCommands));
    for (const command of privileged.rootCommands) {
      for (const rule of command.sudoers('postgres').split(', ')) expect(rule, rule).toMatch(/^\/usr\/bin\/(?!sh |bash |perl |env |sudo )\S+/);
    }
  });

  it('prints sudoers lines that sudo itself accepts (visudo -c), the root rules uncommented too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgrepl-sudoers-'));
    try {
      for (const layout of layouts) {
        const file = join(dir, `${layout.manager}-${layout.systemd}`);
        const lines = sudoersLines(layout).map((line) => line.replace(/^#   (ops ALL)/, '$1'));
        writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o440 });
        expect(execFileSync('visudo', ['-c', '-f', file], { encoding: 'utf8' })).toMatch(/parsed OK/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('grants the server user ALL (its shell scripts make a narrower rule no narrower) and root only what systemd layouts need', () => {
    const [debianSystemd, debianPlain, pgdg, hand] = layouts.map((layout) => sudoersLines(layout).filter((line) => !line.startsWith('#')));
    expect(debianPlain).toEqual(['ops ALL=(postgres) NOPASSWD: ALL']);
    expect(hand).toEqual(['ops ALL=(dbadmin) NOPASSWD: ALL']);
    expect(debianSystemd).toEqual(['ops ALL=(postgres) NOPASSWD: ALL', 'ops ALL=(root) NOPASSWD: /usr/bin/pg_ctlcluster']);
    expect(pgdg[1]).toMatch(/^ops ALL=\(root\) NOPASSWD: \/usr\/bin\/systemctl start \*/);
    expect(sudoersLines({ ...layouts[1], loginUser: 'root' })).toEqual(['# logged in as root: no sudo rule is needed']);
  });

  it("README's least-privilege section is what the registry generates now (run `npm run docs`)", () => {
    expect(withSudoersSection(readme)).toBe(readme);
  });
});

describe("a start that ends on the server's own readiness (startUntilReady, run here by sh)", () => {
  /** Runs the script with a fake start command (`sh -c STARTER`, $1 the data directory) in a fresh data directory. */
  function startWith(starter: string, pidFileBefore?: string) {
    const dir = mkdtempSync(join(tmpdir(), 'pgrepl-start-'));
    try {
      if (pidFileBefore !== undefined) writeFileSync(join(dir, 'postmaster.pid'), pidFileBefore);
      const argv = privileged.startUntilReady(dir, privileged.pgCtlCluster(['15', 'main', 'start']));
      // The host's command replaced by the fake one: the script runs whatever follows the data directory.
      const script = argv.slice(0, 5);
      const result = spawnSync(script[0], [...script.slice(1), 'sh', '-c', starter, 'starter', dir], { encoding: 'utf8' });
      const pidFile = readFileSync(join(dir, 'postmaster.pid'), 'utf8');
      return { code: result.status, stderr: result.stderr, starterPid: Number(pidFile.split('\n')[0]) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const pidFile = (pid: string, started: string, status: string) => [pid, '/data', started, '5432', '/run/postgresql', '*', '1 2', status.padEnd(8), ''].join('\n');
  /** A postmaster that says `status` and stays (its pid is the starter's own, as the fake's `exec sleep` keeps it). */
  const serverSaying = (status: string) => `printf '%s\\n' "$$" /data "$(date +%s)" 5432 /run/postgresql '*' '1 2' '${status}' >"$1/postmaster.pid"; exec sleep 30`;

  it('returns once a new postmaster says ready (or standby: hot_standby off), and ends the start command it no longer waits for', async () => {
    for (const status of ['ready   ', 'standby ']) {
      const { code, stderr, starterPid } = startWith(serverSaying(status));
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      await expect.poll(() => processExists(starterPid), { timeout: 10_000 }).toBe(false);
    }
  });

  it("a start command that fails first is the result: its exit status and its own words (pg_ctlcluster quotes the server's log)", () => {
    const failing = `echo 'The PostgreSQL server failed to start. Please check the log output:' >&2; echo 'FATAL:  could not map anonymous shared memory' >&2; exit 1`;
    // A postmaster.pid left by a server before this start (another pid, an older start) is not taken for its readiness.
    const { code, stderr } = startWith(`sleep 0.3; ${failing}`, pidFile(String(process.pid), '1000', 'ready'));
    expect(code).toBe(1);
    expect(stderr).toBe('The PostgreSQL server failed to start. Please check the log output:\nFATAL:  could not map anonymous shared memory\n');
  });
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
