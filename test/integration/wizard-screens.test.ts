import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, labReset, psqlIn, runCli } from './lab.js';
import { TerminalSession } from './tmux.js';

/**
 * The interactive wizard's screens as an operator reads them in a real terminal: the first
 * screen, the plan review, a healthy doctor, and what quitting shows.
 */

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');
const password = 'screens-lab-password';

/** The lines above `marker` on the screen now. */
const linesAbove = (screen: string, marker: string) => screen.slice(0, screen.indexOf(marker)).trimEnd().split('\n');

describe('the wizard in a real terminal', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(() => labReset());
  afterEach(() => terminal?.close());

  it('the first screen shows both hosts side by side in a few lines; d opens and closes the full detail', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()]);
    const first = await terminal.waitFor('What next?');
    expect(first).toMatch(/^\s+primary\s+standby$/m);
    expect(first).toMatch(new RegExp(`^host\\s+labadmin@${lab.primaryIp.replace(/\./g, '\\.')}\\s+labadmin@${lab.standbyIp.replace(/\./g, '\\.')}$`, 'm'));
    expect(first).toMatch(/^cluster\s+15\/prod, port 5433\s+15\/main, port 5432$/m);
    expect(first).toMatch(/^version\s+PostgreSQL 15\.\d+\s+PostgreSQL 15\.\d+$/m);
    expect(first).toMatch(/^state\s+running, not in recovery\s+running, not in recovery$/m);
    expect(first).toMatch(/^data size\s+\d+\.\d MB\s+\d+\.\d MB$/m);
    expect(first).toMatch(/^free disk\s+\d+\.\d [MGT]B\s+\d+\.\d [MGT]B$/m);
    expect(first).toContain('No blocking problems found.');
    expect(first).not.toContain('data_directory:');
    expect(linesAbove(first, 'What next?').length).toBeLessThanOrEqual(12);

    await terminal.send(['d'], true);
    const detail = await terminal.waitFor('data_directory: /var/lib/postgresql/15/main');
    expect(detail).toContain('data_directory: /var/lib/postgresql/15/prod');
    expect(detail).toMatch(/^\s+listen_addresses = localhost\s+\[default\]$/m);
    await terminal.send(['d'], true);
    await terminal.waitFor(() => !terminal!.visible().includes('data_directory:') && terminal!.visible().includes('What next?'));

    // Set up, Troubleshoot, Watch status, Synchronous replication, Quit: the last entry. The keys
    // arrive together, as over a slow link: each moves the cursor before Enter acts.
    await terminal.send(['Down', 'Down', 'Down', 'Down', 'Enter']);
    const screen = await terminal.waitFor('EXIT=0');
    // Nothing runs at the menu: quitting has no step to wait for.
    expect(screen).not.toContain('Stopping');
  });

  it('a blocking problem is shown in red on the first screen', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags(['--standby', `labadmin@${lab.primaryIp}`, '--standby-cluster', '15/prod'])]);
    await terminal.waitFor('What next?');
    const problem = terminal.visible(true).split('\n').find((line) => line.includes("is the primary's own cluster"));
    expect(problem).toMatch(/\x1b\[[0-9;]*31[;m].*✗ the standby/);
  });

  it('the plan review is one line per step; Enter on a step shows its commands and diffs; quitting changes nothing', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()], { PGREPL_PASSWORD: password });
    await terminal.waitFor('What next?');
    await terminal.send(['Enter']); // Set up a standby
    // Esc while the choices are asked goes back to the menu; nothing runs yet.
    await terminal.waitFor('Replication role name: repl');
    await terminal.send(['Escape']);
    await terminal.waitFor(() => terminal!.visible().includes('What next?') && !terminal!.visible().includes('Replication role name'));
    expect(terminal.screen()).not.toContain('EXIT=');
    await terminal.send(['Enter']);
    // The default role name erased and another typed, each arriving in one read (a held
    // Backspace's auto-repeat, a quick typist's name and Enter): every key counts.
    await terminal.waitFor('Replication role name: repl');
    await terminal.send(Array<string>(12).fill('BSpace'));
    await terminal.send(['opsrepl\r'], true);
    for (const prompt of ['Replication slot name:', 'WAL archiving on the primary?', 'Checkpoint before the clone', "The standby's current data directory"]) {
      await terminal.waitFor(prompt);
      await terminal.send(['Enter']);
    }
    const review = await terminal.waitFor('Run this plan?', 120_000);
    expect(review).toContain('role opsrepl does not exist');
    const stepLines = review.split('\n').filter((line) => /^\s*(❯ )?▸ \d\. /.test(line));
    expect(stepLines.map((line) => line.replace(/^.*▸ /, '').replace(/:.*$/, ''))).toEqual([
      '1. [to do] Replication role on the primary (on primary and standby)',
      '2. [to do] !! RESTARTS THE PRIMARY Replication settings on the primary (on primary)',
      '3. [to do] pg_hba.conf rule for the standby (on primary)',
      '4. [to do] Replication slot on the primary (on primary)',
      '5. [to do] !! REPLACES STANDBY DATA Clone the primary onto the standby (on standby)',
      '6. [to do] Configure the standby to follow the primary (on standby)',
      '7. [to do] Start the standby (on standby)',
      '8. [to do] Verify that the standby streams (on primary and standby)',
    ]);
    expect(review).not.toContain('sql>');
    expect(linesAbove(review, 'Run this plan?').length).toBeLessThanOrEqual(15);

    for (let i = 0; i < 7; i++) await terminal.send(['Up']); // from "Run it" to step 2
    await terminal.send(['Enter']);
    const opened = await terminal.waitFor('$ pg_ctlcluster -m fast 15 prod restart');
    expect(opened).toMatch(/^\s+\+listen_addresses = 'localhost,/m);
    expect(opened).not.toContain('pg_basebackup -h'); // step 5 stays closed

    // To "Quit without changing anything", the keys arriving together: Enter must not act on
    // where the cursor was before them ("Run it" is one Down away).
    await terminal.send([...Array<string>(8).fill('Down'), 'Enter']);
    expect(await terminal.waitFor('EXIT=0')).not.toContain('Stopping');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_roles WHERE rolname IN ('repl', 'opsrepl')")).toBe('0');
  });

});

describe('doctor on a streaming pair', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(async () => {
    const setup = await runCli(['setup', '--yes', '--restart-primary', ...labFlags()], { PGREPL_PASSWORD: password });
    expect(setup.code, setup.stderr).toBe(0);
  });
  afterEach(() => terminal?.close());

  it('a healthy doctor shows the facts that prove it, on the command line and in the app', async () => {
    const proof = [
      /^ {2}primary 15\/prod: running, not in recovery$/m,
      /^ {2}standby 15\/main: running, in recovery, walreceiver streaming$/m,
      /^ {2}lag: \d+(\.\d)? [kMG]?B not yet replayed on the standby, replay_lag (none \(caught up\)|\d+ ms|\d+\.\d s)$/m,
      /^ {2}slot pgrepl_\S+: active, \d+(\.\d)? [kMG]?B of WAL retained on the primary \(wal_status reserved\)$/m,
      /^ {2}last message from the primary received \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((\d+ ms|\d+\.\d s) before this check\)$/m,
    ];

    const text = await runCli(['doctor', ...labFlags()]);
    expect(text.code).toBe(0);
    for (const line of proof) expect(text.stdout).toMatch(line);
    expect(text.stdout).toContain('Result: no errors.');

    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()]);
    await terminal.waitFor('What next?');
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // Troubleshoot a standby
    const healthy = await terminal.waitFor('Result: no errors.');
    for (const line of proof) expect(healthy).toMatch(line);

    // Esc on a finished screen stops nothing: back to the menu, and on to Synchronous replication.
    const atMenu = () => terminal!.visible().includes('Set up a standby') && terminal!.visible().includes('What next?');
    await terminal.send(['Escape']);
    await terminal.waitFor(atMenu);
    await terminal.send(['Down', 'Down', 'Down', 'Enter']);
    await terminal.waitFor('how are the standbys a commit waits for chosen?');
    // The job waits on the operator: nothing on screen says it is still reading.
    expect(terminal.visible()).not.toContain("Reading the primary's standbys");
    await terminal.send(['Enter']); // FIRST n
    await terminal.waitFor(() => terminal!.visible().includes('How many standbys must confirm each commit?'));
    // The entry is one line (inside the question's border); what it gives is said below the menu.
    const menu = terminal.visible();
    expect(menu).toMatch(/^│ ❯ FIRST 1 \(pgrepl_\w+\) +│$/m);
    expect(menu).toMatch(/^│ FIRST 1 of 1 \(priority\): every commit waits until the first of pgrepl_\w+ that streams/m);
    await terminal.send(['Enter']);
    await terminal.waitFor('What should a commit wait for');
    await terminal.send(['Enter']); // keep synchronous_commit
    await terminal.waitFor(/Set synchronous_standby_names = 'FIRST 1 \(pgrepl_\w+\)' on the primary\?/);
    await terminal.send(['Enter']); // No, stop here
    await terminal.waitFor('Nothing was changed.');
    expect(psqlIn('primary', 'SHOW synchronous_standby_names')).toBe('');
    // The menu's summary is read again on the way back, not the one read at the start.
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    await terminal.send(['Escape']);
    await terminal.waitFor(atMenu);
    expect(terminal.visible()).toMatch(/^state\s+running, not in recovery\s+stopped$/m);
    expect(terminal.screen()).not.toContain('EXIT=');

    await terminal.send(['Down', 'Down', 'Down', 'Down', 'Enter']); // Quit
    expect(await terminal.waitFor('EXIT=0')).not.toContain('Stopping');
  });
});
