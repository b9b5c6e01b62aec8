import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { eitherLabIp, inHost, lab, labFlags, labReset, psqlIn, runCli, sshFingerprint, tempDir } from './lab.js';

beforeAll(() => labReset());

describe('inspect against the lab', () => {
  it('reports both hosts as a sudo user, on a cluster with a non-default name and port', async () => {
    const result = await runCli(['inspect', '--json', ...labFlags()]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    const primary = report.primary;
    expect(primary.loginUser).toBe('labadmin');
    expect(primary.os).toMatch(/Debian/);
    expect(primary.cluster.ref).toMatchObject({ id: '15/prod', port: 5433, running: true, manager: 'pg_ctlcluster' });
    expect(primary.cluster.dataDirectory).toBe(psqlIn('primary', 'SHOW data_directory'));
    expect(primary.cluster.configFile).toBe('/etc/postgresql/15/prod/postgresql.conf');
    expect(primary.cluster.hbaFile).toBe('/etc/postgresql/15/prod/pg_hba.conf');
    expect(primary.cluster.systemIdentifier).toBe(psqlIn('primary', 'SELECT system_identifier FROM pg_control_system()'));
    expect(primary.cluster.inRecovery).toBe(false);
    expect(primary.cluster.settings.port).toEqual({ value: '5433', source: '/etc/postgresql/15/prod/postgresql.conf:64', pendingRestart: false });
    expect(primary.cluster.settings.wal_level.value).toBe(psqlIn('primary', 'SHOW wal_level'));
    expect(primary.cluster.freeBytes).toBeGreaterThan(0);
    expect(primary.pgBasebackup.version).toMatch(/^15\./);
    const standby = report.standby;
    expect(standby.cluster.ref).toMatchObject({ id: '15/main', port: 5432 });
    // An independently initialised cluster: the runbook's "system identifier differs" trap.
    expect(standby.cluster.systemIdentifier).not.toBe(primary.cluster.systemIdentifier);
  });

  it('logs in as root too, and reads a stopped cluster from its files', async () => {
    execFileSync('bash', [join(import.meta.dirname, '..', 'lab', 'lab.sh'), 'exec', 'standby', 'pg_ctlcluster', '15', 'main', 'stop']);
    try {
      const result = await runCli(['inspect', '--json', ...labFlags(['--standby', `root@${lab.standbyIp}`])]);
      expect(result.code).toBe(0);
      const standby = JSON.parse(result.stdout).standby;
      expect(standby.loginUser).toBe('root');
      expect(standby.cluster.ref.running).toBe(false);
      expect(standby.cluster.systemIdentifier).toMatch(/^\d{10,}$/);
      expect(standby.cluster.settings.port).toMatchObject({ value: '5432', source: 'files (server stopped)' });
    } finally {
      execFileSync('bash', [join(import.meta.dirname, '..', 'lab', 'lab.sh'), 'exec', 'standby', 'pg_ctlcluster', '15', 'main', 'start']);
    }
  });

  it('explains a login without sudo rights instead of hanging', async () => {
    const result = await runCli(['inspect', ...labFlags(['--primary', `nosudo@${lab.primaryIp}`])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/user nosudo (may not run commands as postgres|has no sudo rights)/);
    expect(result.stderr).toContain(`where: primary nosudo@${lab.primaryIp}`);
  });

  it('names the host and the cause when nothing listens on the SSH port', async () => {
    const result = await runCli(['inspect', ...labFlags(['--standby', `labadmin@${lab.standbyIp}:2222`])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach ${lab.standbyIp} port 2222 over SSH: nothing listens there`);
    expect(result.stderr).toContain(`where: standby labadmin@${lab.standbyIp}:2222`);
  });

  it('lists the clusters found when --primary-cluster names none of them', async () => {
    const result = await runCli(['inspect', ...labFlags(['--primary-cluster', '15/main'])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--primary-cluster "15/main" matches no cluster; found: 15/prod port 5433 running');
  });

  it('asks which cluster when a host has several, and without a terminal names the flag', async () => {
    inHost('primary', ['pg_createcluster', '15', 'second', '-p', '5440', '--start']);
    try {
      const withoutFlag = await runCli(['inspect', '--primary', `labadmin@${lab.primaryIp}`, '--standby', `labadmin@${lab.standbyIp}`, '-i', lab.key, '--known-hosts', lab.knownHosts]);
      expect(withoutFlag.code).toBe(2);
      expect(withoutFlag.stderr).toContain('Several PostgreSQL clusters on the primary');
      expect(withoutFlag.stderr).toMatch(/pass --primary-cluster with one of: 15\/prod port 5433 .*15\/second port 5440/s);
      const chosen = await runCli(['inspect', '--json', ...labFlags(['--primary-cluster', 'second'])]);
      expect(JSON.parse(chosen.stdout).primary.cluster.ref).toMatchObject({ id: '15/second', port: 5440 });
    } finally {
      inHost('primary', ['pg_dropcluster', '--stop', '15', 'second']);
    }
  });

  it('refuses a wrong login key, naming the user and the key tried', async () => {
    const dir = tempDir('pgrepl-key-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    const result = await runCli(['inspect', ...labFlags(['-i', join(dir, 'other')])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`SSH login as labadmin to ${eitherLabIp} port 22 was refused \\(tried: .*other\\)`));
  });
});

describe('host key verification', () => {
  it('refuses an unknown host key without a terminal, printing its SHA256 fingerprint and how to trust it', async () => {
    const dir = tempDir('pgrepl-kh-');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, readFileSync(lab.knownHosts, 'utf8').split('\n').filter((l) => !l.startsWith(lab.primaryIp)).join('\n'));
    const result = await runCli(['inspect', ...labFlags(['--known-hosts', knownHosts])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`host key of ${lab.primaryIp} port 22 is not in ${knownHosts}`);
    expect(result.stderr).toContain(sshFingerprint(lab.hostKeyPub('primary')));
    expect(result.stderr).toContain(`add this line to ${knownHosts}: ${lab.primaryIp} ssh-ed25519 `);
    expect(readFileSync(knownHosts, 'utf8')).not.toContain(lab.primaryIp);
  });

  it('refuses a changed host key, showing the key presented', async () => {
    const dir = tempDir('pgrepl-kh-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'impostor')]);
    const impostor = readFileSync(join(dir, 'impostor.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const knownHosts = join(dir, 'known_hosts');
    // Hashed, as Debian's ssh writes it by default (HashKnownHosts yes).
    writeFileSync(knownHosts, `${lab.primaryIp} ${impostor}\n${readFileSync(lab.knownHosts, 'utf8').split('\n').filter((l) => l.startsWith(lab.standbyIp)).join('\n')}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHosts]);
    const result = await runCli(['inspect', ...labFlags(['--known-hosts', knownHosts])]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('REMOTE HOST KEY HAS CHANGED');
    expect(result.stderr).toContain(sshFingerprint(lab.hostKeyPub('primary')));
    expect(result.stderr).toContain(sshFingerprint(join(dir, 'impostor.pub')));
  });
});

describe('~/.ssh/config', () => {
  it('resolves aliases with User, IdentityFile and ProxyJump through the primary', async () => {
    const dir = tempDir('pgrepl-sshcfg-');
    const sshConfig = join(dir, 'config');
    writeFileSync(
      sshConfig,
      [
        'Host db-primary',
        `  HostName ${lab.primaryIp}`,
        '  User labadmin',
        `  IdentityFile ${lab.key}`,
        'Host db-standby',
        `  HostName ${lab.standbyIp}`,
        '  User root',
        `  IdentityFile ${lab.key}`,
        '  ProxyJump db-primary',
        '',
      ].join('\n'),
    );
    const result = await runCli(['inspect', '--json', '--ssh-config', sshConfig, '--known-hosts', lab.knownHosts, '--primary', 'db-primary', '--standby', 'db-standby', '--primary-cluster', '15/prod']);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    expect(report.primary).toMatchObject({ label: 'db-primary', address: lab.primaryIp, loginUser: 'labadmin' });
    expect(report.standby).toMatchObject({ label: 'db-standby', address: lab.standbyIp, loginUser: 'root' });
  });
});
