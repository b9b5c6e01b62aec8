import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, labReset, psqlIn, runCli } from './lab.js';
import { current, diagnoseUntil, doctor, errorIds, expectStreamingWithNewRow, fix, logLine, primaryHba, quotedLogLines, reconnectStandby, standbyData } from './doctor-lab.js';
import { TerminalSession } from './tmux.js';

/**
 * Doctor on a pair built by hand the way many are: `pg_basebackup -R` with the password in
 * primary_conninfo, its own role name, no slot (wal_keep_size instead). Doctor reads the
 * relationship from the standby and repairs it as it is.
 */

const handPassword = "hand made 'secret'";
const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');

function setUpByHand(): void {
  psqlIn('primary', `CREATE ROLE replicator LOGIN REPLICATION PASSWORD '${handPassword.replace(/'/g, "''")}'`);
  psqlIn('primary', "ALTER SYSTEM SET listen_addresses = '*'");
  psqlIn('primary', "ALTER SYSTEM SET wal_keep_size = '256MB'");
  inHost('primary', ['sh', '-c', `echo "host replication replicator ${lab.standbyIp}/32 scram-sha-256" >> ${primaryHba}`]);
  inHost('primary', ['pg_ctlcluster', '15', 'prod', 'restart']);
  inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
  inHost('standby', ['rm', '-rf', standbyData]);
  inHost('standby', [
    'runuser', '-u', 'postgres', '--', 'env', `PGPASSWORD=${handPassword}`,
    '/usr/lib/postgresql/15/bin/pg_basebackup', '-h', lab.primaryIp, '-p', '5433', '-U', 'replicator', '-D', standbyData, '-X', 'stream', '-R', '--checkpoint=fast',
  ]);
  inHost('standby', ['pg_ctlcluster', '15', 'main', 'start']);
}

beforeAll(() => {
  labReset();
  setUpByHand();
});

describe('doctor on a pair set up by hand', () => {
  let terminal: TerminalSession | undefined;
  afterEach(() => terminal?.close());

  it("reads who the standby follows from its own postgresql.auto.conf and finds it healthy, password masked", async () => {
    expect(psqlIn('standby', 'SHOW primary_conninfo')).toContain('password=');
    const text = await runCli(['doctor', ...labFlags()]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^The standby follows: user=replicator password=\*\*\* .*host=\S+ port=5433 .*; no slot \(read from the running standby \(pg_settings\)\)\.$/m);
    expect(text.stdout).toContain('Result: no errors.');
    expect(text.stdout + text.stderr).not.toContain('secret');
  });

  it("auth-failed: the role's password was rotated; --fix sets it back to the one in primary_conninfo", async () => {
    psqlIn('primary', "ALTER ROLE replicator PASSWORD 'rotated'");
    reconnectStandby();
    const finding = current(await diagnoseUntil(['auth-failed']), 'auth-failed');
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('password authentication failed for user "replicator"')));

    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    expect(after.repairs.steps.map((s) => s.id)).toEqual(['standby-passfile', 'replication-role', 'await-streaming']);
    expect(after.stdout + after.stderr).not.toContain('secret');
    await expectStreamingWithNewRow();
  });

  it('in the interactive app: Troubleshoot a standby lists the finding with its log line, and Fix it starts the standby', async () => {
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()]);
    await terminal.waitFor('What next?');
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // Troubleshoot a standby
    const findings = await terminal.waitFor('Fix it: plan the repairs');
    expect(findings).toContain('Errors (1)');
    expect(findings).toContain('✗ standby-down (standby): the standby is not running');
    expect(findings).toMatch(/^\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] LOG:  received fast shutdown request$/m);
    await terminal.send(['Enter']); // Fix it
    const plan = await terminal.waitFor('Run these repairs?');
    expect(plan).toContain('$ pg_ctlcluster 15 main start');
    await terminal.send(['Enter']); // Run them
    const result = await terminal.waitFor('After the repairs:', 120_000);
    expect(result).toContain('Result: no errors.');
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // Quit
    await terminal.waitFor('EXIT=0');
    expect((await doctor()).healthy).toBe(true);
    await expectStreamingWithNewRow();
  });
});
