import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, labReset, psqlIn } from './lab.js';
import { TerminalSession } from './tmux.js';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');
const password = 'Tui:secret\\pw';
/** Each case resets the pair and runs a real setup through the terminal: minutes on a busy 2-core machine. */
const slow = 300_000;

/** A fresh pair, every default accepted, the plan run: stops at the standby wipe's confirmation. */
async function runUntilWipeConfirmation(): Promise<TerminalSession> {
  labReset();
  const terminal = new TerminalSession();
  terminal.start(['node', cli, ...labFlags(['--restart-primary'])], { PGREPL_PASSWORD: password });
  await terminal.waitFor('What next?');
  await terminal.send(['Enter']);
  for (const prompt of ['Replication role name:', 'Replication slot name:', 'WAL archiving on the primary?', 'Checkpoint before the clone', "The standby's current data directory"]) {
    await terminal.waitFor(prompt);
    await terminal.send(['Enter']);
  }
  await terminal.waitFor('Run this plan?');
  await terminal.send(['Enter']);
  await terminal.waitFor(/Type \S+ to confirm:/, 120_000);
  return terminal;
}

describe('interactive setup in a real terminal', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(() => {
    labReset();
  });
  afterEach(() => terminal?.close());

  it('walks from the overview to a streaming standby, asking before the restart and the wipe', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()]);
    await terminal.waitFor('What next?');
    await terminal.send(['Enter']); // Set up a standby
    await terminal.waitFor('Replication role name: repl');
    // A typo is refused on the spot, with the reason, and the field stays open.
    await terminal.send(['X!'], true);
    await terminal.send(['Enter']);
    await terminal.waitFor('"replX!" is not a plain lower-case role name');
    await terminal.send(['BSpace', 'BSpace']); // arriving together, as a held key's repeats do
    await terminal.send(['Enter']);
    await terminal.waitFor('Replication slot name:');
    await terminal.send(['Enter']);
    await terminal.waitFor('WAL archiving on the primary?');
    await terminal.send(['Enter']); // no archiving
    await terminal.waitFor('Checkpoint before the clone');
    await terminal.send(['Enter']); // fast
    await terminal.waitFor("The standby's current data directory");
    await terminal.send(['Enter']); // keep it
    await terminal.waitFor('Password for replication role repl');
    await terminal.send([password], true);
    expect(terminal.screen()).not.toContain(password); // masked
    await terminal.send(['Enter']);
    const plan = await terminal.waitFor('Run this plan?');
    expect(plan).toContain('!! RESTARTS THE PRIMARY');
    expect(plan).toContain('!! REPLACES STANDBY DATA');
    await terminal.send(['Enter']); // Run it
    await terminal.waitFor('Restart the primary now?');
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // Yes
    const hostname = inHost('standby', ['uname', '-n']).trim();
    await terminal.waitFor(`Type ${hostname} to confirm:`);
    await terminal.send([hostname], true);
    await terminal.send(['Enter']);
    const result = await terminal.waitFor(/Result: the standby is set up\.|Result: setup stopped/, 120_000);
    expect(result).toContain('Result: the standby is set up.');
    expect(result).toMatch(/canary written at \S+ on the primary was replayed on the standby after \d+ ms/);
    expect(result).not.toContain(password);
    await terminal.send(['Enter']);
    await terminal.waitFor('EXIT=0');
    expect(psqlIn('primary', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`)).toBe('streaming');
  }, slow);

  it('a typo in the host name is asked again, and an empty answer stops without touching the standby', async () => {
    terminal = await runUntilWipeConfirmation();
    const systemIdentifier = psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()');
    const hostname = inHost('standby', ['uname', '-n']).trim();
    await terminal.send(['not-this-host'], true);
    await terminal.send(['Enter']);
    await terminal.waitFor(`"not-this-host" is not ${hostname}: type it exactly to go ahead, or leave it empty and press Enter to stop here`);
    expect(terminal.visible()).toContain(`Type ${hostname} to confirm: not-this-host`); // the field stays open
    expect(psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()')).toBe(systemIdentifier);
    await terminal.send(['C-u', 'Enter']);
    const screen = await terminal.waitFor('Result: setup stopped');
    expect(screen).toContain('stopped before touching the standby');
    expect(psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()')).toBe(systemIdentifier);
    await terminal.send(['Enter']);
    await terminal.waitFor('EXIT=1');
  }, slow);

  it('Esc at the confirmation stops cleanly: exit 130, the standby untouched', async () => {
    terminal = await runUntilWipeConfirmation();
    const systemIdentifier = psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()');
    await terminal.send(['Escape']);
    await terminal.waitFor('EXIT=130');
    expect(psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()')).toBe(systemIdentifier);
    expect(inHost('standby', ['sh', '-c', 'ls -d /var/lib/postgresql/15/main.pgrepl-* 2>/dev/null || true']).trim()).toBe('');
  }, slow);
});
