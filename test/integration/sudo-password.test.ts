import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectStreamingWithNewRow } from './doctor-lab.js';
import { inHost, lab, labFlags, labReset, psqlIn, runCli } from './lab.js';
import { TerminalSession } from './tmux.js';

/**
 * The SSH user's sudo asks for a password (lab user `sudopw`, `ALL=(ALL) ALL`): the wizard
 * asks for it once per host, proves it before any change, and hands it to sudo alone.
 */

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');
const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');
const asSudoUser = labFlags(['--primary', `${lab.sudoUser}@${lab.primaryIp}`, '--standby', `${lab.sudoUser}@${lab.standbyIp}`]);

/** What a setup could have changed on the primary and the standby, as text. */
const pairState = () =>
  [
    inHost('primary', ['md5sum', '/etc/postgresql/15/prod/pg_hba.conf', '/etc/postgresql/15/prod/postgresql.conf', '/var/lib/postgresql/15/prod/postgresql.auto.conf']),
    psqlIn('primary', 'SELECT rolname FROM pg_roles ORDER BY 1'),
    psqlIn('primary', 'SELECT slot_name FROM pg_replication_slots'),
    psqlIn('standby', 'SELECT pg_is_in_recovery(), pg_postmaster_start_time()'),
  ].join('\n');

/** `ps -eo args` on both hosts, over and over until `stop` resolves: every command line the run showed. */
async function sampleProcessLists(stop: Promise<unknown>): Promise<string[]> {
  let done = false;
  void stop.finally(() => (done = true));
  const samples: string[] = [];
  while (!done) {
    for (const host of ['primary', 'standby']) {
      const { stdout } = await promisify(execFile)('bash', [labScript, 'exec', host, 'ps', '-eo', 'args'], { env: process.env });
      samples.push(stdout);
    }
  }
  return samples;
}

describe('sudo that asks for a password', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(() => {
    labReset();
  });
  afterEach(() => terminal?.close());

  it('without the password, headless: a clear error naming the ways to give it, no hang, nothing changed', async () => {
    const before = pairState();
    const result = await runCli(['setup', '--yes', '--restart-primary', ...asSudoUser]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`user ${lab.sudoUser} may not run commands as`);
    expect(result.stderr).toContain('PGREPL_SUDO_PASSWORD');
    expect(pairState()).toBe(before);
  });

  it('a wrong password is refused right after connecting, before anything changes', async () => {
    const before = pairState();
    const wrong = 'not-the-sudo-password';
    const result = await runCli(['setup', '--yes', '--restart-primary', ...asSudoUser], { PGREPL_SUDO_PASSWORD: wrong });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`sudo did not accept the password given for user ${lab.sudoUser}; nothing was changed`));
    expect(result.stderr).toContain('PGREPL_PRIMARY_SUDO_PASSWORD');
    expect(result.stdout + result.stderr).not.toContain(wrong);
    expect(pairState()).toBe(before);
  });

  it('the right one, headless: a streaming standby, and the password in no process list, output, log or file', async () => {
    const run = runCli(['setup', '--yes', '--restart-primary', '--json', ...asSudoUser], { PGREPL_SUDO_PASSWORD: lab.sudoPassword });
    const processLists = await sampleProcessLists(run);
    const result = await run;
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).ok).toBe(true);
    await expectStreamingWithNewRow();

    // The samples saw the run's own sudo calls (its prompt marker is in their argv), never the password.
    expect(processLists.some((list) => list.includes('[pgrepl-wizard sudo '))).toBe(true);
    for (const list of processLists) expect(list).not.toContain(lab.sudoPassword);
    expect(result.stdout + result.stderr).not.toContain(lab.sudoPassword);
    // Both hosts' files (configuration, data, server and sshd logs, /tmp, homes) and the user's home.
    const found = inHost('primary', ['sh', '-c', 'grep -rlF -- "$1" "$2" "$3" 2>/dev/null || true', 'sh', lab.sudoPassword, lab.dir, `/home/${lab.sudoUser}`]);
    expect(found.trim()).toBe('');
  }, 300_000);

  it('asks once per host, masked, in the interactive wizard', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...asSudoUser]);
    const first = /sudo password for \S+ on the (primary|standby)/.exec(await terminal.waitFor(/sudo password for \S+ on the (primary|standby)/))![1];
    for (const host of [first, first === 'primary' ? 'standby' : 'primary']) {
      await terminal.waitFor(`sudo password for ${lab.sudoUser} on the ${host}`);
      await terminal.send([lab.sudoPassword], true);
      expect(terminal.screen()).not.toContain(lab.sudoPassword);
      expect(terminal.visible()).toContain('*'.repeat(lab.sudoPassword.length));
      await terminal.send(['Enter']);
    }
    const overview = await terminal.waitFor('What next?', 240_000);
    expect(overview).not.toContain(lab.sudoPassword);
    await terminal.send(['Escape']);
    await terminal.waitFor('EXIT=');
  }, 300_000);

  it('asks once per host on a plain terminal, echoing nothing; a wrong one stops before anything changes', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, 'inspect', ...asSudoUser]);
    await terminal.waitFor(new RegExp(`sudo password for ${lab.sudoUser} on the (primary|standby)`));
    await terminal.send([lab.sudoPassword], true);
    await terminal.send(['Enter']);
    await terminal.waitFor(/sudo password for \S+ on the (primary|standby)[\s\S]*sudo password for/);
    await terminal.send(['not-it'], true);
    await terminal.send(['Enter']);
    const screen = await terminal.waitFor('EXIT=');
    expect(screen).toContain(`sudo did not accept the password given for user ${lab.sudoUser}`);
    expect(screen).toContain('EXIT=1');
    expect(screen).not.toContain(lab.sudoPassword);
    expect(screen).not.toContain('not-it');
  });
});
