import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { diagnoseUntil, current, expectStreamingWithNewRow, quotedLogLines, reconnectStandby } from './doctor-lab.js';
import { inHost, lab, labFlags, labReset, psqlIn, runCli, tempDir } from './lab.js';

/**
 * Replication over TLS: a primary (the lab's has ssl = off) turned to ssl = on with a server certificate is signed by a CA made here with
 * openssl (subjectAltName: the primary's lab address), and a standby that verifies it.
 */

const tlsDir = '/var/lib/postgresql/pgrepl-tls';
/** $1: the directory, $2: the primary's address. A CA, and a server certificate it signs for that address. */
const makeCertificates = [
  'set -e',
  'mkdir -p "$1" && cd "$1"',
  'openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pgrepl lab CA" -keyout ca.key -out ca.crt 2>/dev/null',
  'openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout server.key -out server.csr 2>/dev/null',
  'printf "subjectAltName=IP:%s\\n" "$2" > san.ext',
  'openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null',
  'openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" -keyout other-ca.key -out other-ca.crt 2>/dev/null',
  'chown -R postgres: "$1" && chmod 0600 server.key',
].join('\n');

describe('replication over TLS', () => {
  const workstation = tempDir('pgrepl-tls-');
  const caFile = join(workstation, 'ca.crt');

  beforeAll(async () => {
    labReset();
    inHost('primary', ['sh', '-c', makeCertificates, 'sh', tlsDir, lab.primaryIp]);
    writeFileSync(caFile, inHost('primary', ['cat', `${tlsDir}/ca.crt`]));
    // In the primary's own configuration (/etc/postgresql), not postgresql.auto.conf, which the clone copies to the standby.
    inHost('primary', ['sh', '-c', 'printf "ssl = on\\nssl_cert_file = \'%s/server.crt\'\\nssl_key_file = \'%s/server.key\'\\n" "$1" "$1" > /etc/postgresql/15/prod/conf.d/pgrepl-tls.conf', 'sh', tlsDir]);
    psqlIn('primary', 'SELECT pg_reload_conf()');
    // A reload is applied by the postmaster a moment later: wait for the server to report it.
    for (let tries = 0; psqlIn('primary', 'SHOW ssl') !== 'on'; tries++) {
      if (tries > 100) throw new Error('the primary did not load the new certificate');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('without a CA, the plan says sslmode=require and what it does not protect against', async () => {
    const result = await runCli(['setup', '--plan', ...labFlags()]);
    expect(result.code).toBe(0);
    const text = result.stdout + result.stderr;
    expect(text).toContain('sslmode=require');
    expect(text).toContain("the standby does not check the primary's certificate");
    expect(text).toMatch(/hostssl +replication +repl +10\.77\.\d+\.12\/32/);
  });

  it('with --ssl-root-cert: a hostssl rule, verify-full with the CA copied to the standby, and the walsender uses TLS', async () => {
    const result = await runCli(['setup', '--yes', '--restart-primary', '--json', '--ssl-root-cert', caFile, ...labFlags()]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).ok).toBe(true);
    await expectStreamingWithNewRow();

    expect(inHost('primary', ['cat', '/etc/postgresql/15/prod/pg_hba.conf'])).toMatch(new RegExp(`^hostssl +replication +repl +${lab.standbyIp.replace(/\./g, '\\.')}/32 `, 'm'));
    const conninfo = psqlIn('standby', 'SHOW primary_conninfo');
    expect(conninfo).toContain('sslmode=verify-full');
    const rootCert = /sslrootcert=(\S+)/.exec(conninfo)![1];
    expect(inHost('standby', ['cat', rootCert])).toBe(inHost('primary', ['cat', `${tlsDir}/ca.crt`]));
    expect(psqlIn('primary', `SELECT s.ssl, s.version IS NOT NULL FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.client_addr = '${lab.standbyIp}'`)).toBe('t|t');
  }, 300_000);

  it("doctor quotes libpq's certificate failure when the standby's CA did not sign the primary's certificate", async () => {
    const rootCert = /sslrootcert=(\S+)/.exec(psqlIn('standby', 'SHOW primary_conninfo'))![1];
    // The standby's /var/lib/postgresql is the lab's <standby>/lib on this machine.
    writeFileSync(rootCert.replace(/^\/var\/lib\/postgresql/, join(lab.dir, 'standby', 'lib')), inHost('primary', ['cat', `${tlsDir}/other-ca.crt`]));
    reconnectStandby();
    const report = await diagnoseUntil(['tls-failed']);
    const finding = current(report, 'tls-failed');
    expect(quotedLogLines(finding, 'standby').join('\n')).toContain('certificate verify failed');
  }, 300_000);
});
