import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, psqlIn, runCli } from './lab.js';
import { current, diagnoseUntil, primaryHba, reconnectStandby, setUpWithWizard } from './doctor-lab.js';

/**
 * Doctor quotes what the servers and their clients said, not what the privilege wrapper
 * around our commands said: a standby whose own host name does not resolve makes sudo
 * print "sudo: unable to resolve host …" before every command it runs.
 */

// Rewritten in place: the lab's /etc/hosts is a bind-mounted file, which a rename cannot replace.
const hideOwnHostName = 'grep -v "$(uname -n)" /etc/hosts > /tmp/hosts.without-name && cat /tmp/hosts.without-name > /etc/hosts';
const restoreOwnHostName = 'grep -q "$(uname -n)" /etc/hosts || printf "%s\\t%s\\n" "$1" "$(uname -n)" >> /etc/hosts';

beforeAll(async () => {
  await setUpWithWizard();
  inHost('standby', ['sh', '-c', hideOwnHostName]);
});

afterAll(() => inHost('standby', ['sh', '-c', restoreOwnHostName, 'sh', lab.standbyIp]));

describe("doctor's evidence on a host whose sudo complains", () => {
  it('quotes the server and psql lines of a connection refused by pg_hba, and no sudo line', async () => {
    expect(inHost('standby', ['sh', '-c', 'sudo -n -u postgres true 2>&1'])).toContain('sudo: unable to resolve host');
    inHost('primary', ['sed', '-i', '/pgrepl-wizard/d', primaryHba]);
    psqlIn('primary', 'SELECT pg_reload_conf()');
    reconnectStandby();

    const report = await diagnoseUntil(['hba-missing']);
    const finding = current(report, 'hba-missing');
    const probe = finding.evidence.find((e) => e.source.startsWith('replication connection'));
    expect(probe?.lines.join('\n')).toMatch(/FATAL: {1,2}no pg_hba\.conf entry for replication connection/);
    const quoted = report.findings.flatMap((f) => f.evidence.flatMap((e) => e.lines));
    expect(quoted.filter((line) => /\b(sudo|runuser):/.test(line))).toEqual([]);

    const text = await runCli(['doctor', ...labFlags()]);
    expect(text.stdout).toContain('hba-missing');
    expect(text.stdout + text.stderr).not.toContain('unable to resolve host');
  });
});
