import { execFileSync } from 'node:child_process';
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
