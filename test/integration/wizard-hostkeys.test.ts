import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eitherLabIp, escapeRegExp, lab, labFlags, labUp, sshFingerprint, tempDir } from './lab.js';
import { TerminalSession } from './tmux.js';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');

describe('interactive wizard in a real terminal', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(() => labUp());
  afterEach(() => terminal?.close());

  it('shows each unknown host key fingerprint, saves the trusted ones, then shows what it found', async () => {
    const knownHosts = join(tempDir('pgrepl-tui-'), 'known_hosts');
    writeFileSync(knownHosts, '');
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags(['--known-hosts', knownHosts])]);
    for (let i = 0; i < 2; i++) {
      const unknownHost = new RegExp(`host ${eitherLabIp} port 22 is not in known_hosts`);
      const screen = await terminal.waitFor(unknownHost);
      const host = unknownHost.exec(screen)![1];
      const role = host === lab.primaryIp ? 'primary' : 'standby';
      expect(screen).toContain(sshFingerprint(lab.hostKeyPub(role)));
      await terminal.send(['Enter']); // "Trust it and save it to known_hosts"
      await terminal.waitFor(() => readFileSync(knownHosts, 'utf8').includes(host));
    }
    const overview = await terminal.waitFor('What next?');
    expect(overview).toMatch(/^cluster\s+15\/prod, port 5433\s+15\/main, port 5432$/m);
    await terminal.send(['Down', 'Down', 'Down', 'Down']);
    await terminal.send(['Enter']); // Quit (after "Set up a standby", "Troubleshoot a standby", "Watch replication status" and "Synchronous replication")
    await terminal.waitFor('EXIT=0');
    const saved = readFileSync(knownHosts, 'utf8');
    expect(saved).toMatch(new RegExp(`^${escapeRegExp(lab.primaryIp)} ssh-ed25519 `, 'm'));
    expect(saved).toMatch(new RegExp(`^${escapeRegExp(lab.standbyIp)} ssh-ed25519 `, 'm'));
  });

  it('stops with the fingerprint on screen when the operator rejects the key', async () => {
    const knownHosts = join(tempDir('pgrepl-tui-'), 'known_hosts');
    writeFileSync(knownHosts, readFileSync(lab.knownHosts, 'utf8').split('\n').filter((l) => !l.startsWith(lab.standbyIp)).join('\n'));
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags(['--known-hosts', knownHosts])]);
    await terminal.waitFor(`host ${lab.standbyIp} port 22 is not in known_hosts`);
    await terminal.send(['Down']);
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // "Reject and stop"
    const screen = await terminal.waitFor('Press Enter to exit.');
    expect(screen).toContain(`presented ssh-ed25519 ${sshFingerprint(lab.hostKeyPub('standby'))}`);
    await terminal.send(['Enter']);
    await terminal.waitFor('EXIT=1');
    expect(readFileSync(knownHosts, 'utf8')).not.toContain(lab.standbyIp);
  });
});
