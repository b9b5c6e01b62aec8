import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../../src/options.js';

const configFile = (text: string) => {
  const file = join(mkdtempSync(join(tmpdir(), 'pgrepl-opts-')), 'wizard.yaml');
  writeFileSync(file, text);
  return file;
};

describe('parseOptions', () => {
  it('takes the config file and lets flags win over it', async () => {
    const file = configFile('primary: root@db1\nstandby: root@db2\nprimaryCluster: 15/prod\nknownHosts: /tmp/kh\n');
    const options = await parseOptions(['inspect', '--config', file, '--standby', 'admin@db3', '--json'], {});
    expect(options).toMatchObject({ command: 'inspect', primary: 'root@db1', standby: 'admin@db3', primaryCluster: '15/prod', knownHosts: '/tmp/kh', json: true });
  });

  it('reads PGREPL_CONFIG when --config is absent', async () => {
    const file = configFile('primary: root@db9\n');
    expect((await parseOptions([], { PGREPL_CONFIG: file })).primary).toBe('root@db9');
  });

  it('rejects a misspelled config key, naming it and the valid keys', async () => {
    const file = configFile('primay: root@db1\n');
    await expect(parseOptions(['--config', file], {})).rejects.toThrow(/unknown key "primay"/);
  });

  it('rejects unknown commands and flags with exit code 2', async () => {
    await expect(parseOptions(['inspekt'], {})).rejects.toMatchObject({ exitCode: 2, message: /unknown command "inspekt"/ });
    await expect(parseOptions(['--primery', 'x'], {})).rejects.toMatchObject({ exitCode: 2 });
  });

  it('carries PGREPL_PASSWORD and SSH_AUTH_SOCK from the environment, never from the config file', async () => {
    const options = await parseOptions(['setup'], { PGREPL_PASSWORD: 's3cret-pw', SSH_AUTH_SOCK: '/run/agent.sock' });
    expect(options).toMatchObject({ password: 's3cret-pw', sshAgentSocket: '/run/agent.sock' });
    await expect(parseOptions(['--config', configFile('password: s3cret\n')], {})).rejects.toThrow(/unknown key "password"/);
    expect((await parseOptions(['setup'], { PGREPL_PASSWORD: '' })).password).toBeUndefined();
  });

  it('refuses a PGREPL_PASSWORD shorter than 8 characters where it would be set, naming the rule, never the password', async () => {
    const refused = parseOptions(['setup'], { PGREPL_PASSWORD: 'abc' });
    await expect(refused).rejects.toMatchObject({
      exitCode: 2,
      message: "PGREPL_PASSWORD is 3 characters long; the replication role's password must have at least 8; nothing was changed",
    });
    await expect(refused).rejects.not.toThrow(/abc/);
    await expect(parseOptions(['doctor', '--fix'], { PGREPL_PASSWORD: 'abc' })).rejects.toThrow(/PGREPL_PASSWORD is 3 characters long/);
    // Where nothing sets it, an exported short one is no reason to refuse.
    await expect(parseOptions(['status'], { PGREPL_PASSWORD: 'abc' })).resolves.toMatchObject({ command: 'status' });
    await expect(parseOptions(['setup'], { PGREPL_PASSWORD: '8 chars!' })).resolves.toMatchObject({ password: '8 chars!' });
  });

  it('carries the sudo passwords from the environment: one per host wins over the one for both', async () => {
    const both = await parseOptions(['setup'], { PGREPL_SUDO_PASSWORD: 'both' });
    expect(both.sudoPasswords).toEqual({ primary: 'both', standby: 'both' });
    const split = await parseOptions(['setup'], { PGREPL_SUDO_PASSWORD: 'both', PGREPL_STANDBY_SUDO_PASSWORD: 'standby-only' });
    expect(split.sudoPasswords).toEqual({ primary: 'both', standby: 'standby-only' });
    expect((await parseOptions(['setup'], {})).sudoPasswords).toEqual({ primary: undefined, standby: undefined });
    await expect(parseOptions(['--config', configFile('sudoPassword: s3cret\n')], {})).rejects.toThrow(/unknown key "sudoPassword"/);
  });

  it('carries the bounds of the waits from the environment in whole seconds, and refuses anything else', async () => {
    expect(await parseOptions(['setup'], { PGREPL_SSH_TIMEOUT: '6', PGREPL_STREAMING_TIMEOUT: '5' })).toMatchObject({ sshDeadAfterMs: 6000, streamingWaitMs: 5000 });
    expect((await parseOptions(['setup'], {})).streamingWaitMs).toBeUndefined();
    await expect(parseOptions(['setup'], { PGREPL_STREAMING_TIMEOUT: '5s' })).rejects.toMatchObject({ exitCode: 2, message: 'PGREPL_STREAMING_TIMEOUT=5s is not a number of seconds (2 or more)' });
  });

  it('names the missing config file', async () => {
    await expect(parseOptions(['--config', '/nonexistent/w.yaml'], {})).rejects.toThrow(/cannot read config file \/nonexistent\/w.yaml: ENOENT/);
  });

  describe('a list of named standbys', () => {
    it("a cascaded standby's upstream is another entry: its host and cluster; --upstream NAME or primary overrides it", async () => {
      const chain = 'primary: root@db1\nstandbys:\n  - name: db2\n    host: admin@db2\n    cluster: 15/main\n  - name: db3\n    host: admin@db3\n    upstream: db2\n';
      expect(await parseOptions(['setup', '--config', configFile(chain), '--standby', 'db3'], {})).toMatchObject({ standby: 'admin@db3', slot: 'db3', upstream: 'admin@db2', upstreamCluster: '15/main' });
      expect((await parseOptions(['setup', '--config', configFile(chain), '--standby', 'db3', '--upstream', 'primary'], {})).upstream).toBeUndefined();
      expect(await parseOptions(['setup', '--config', configFile(chain), '--standby', 'db2', '--upstream', 'db3'], {})).toMatchObject({ standby: 'admin@db2', upstream: 'admin@db3' });
      expect((await parseOptions(['setup', '--config', configFile(chain), '--standby', 'db2'], {})).upstream).toBeUndefined();
    });

    const two = 'primary: root@db1\nstandbys:\n  - name: db2\n    host: admin@db2\n    cluster: 15/main\n  - name: db3\n    host: admin@db3:2222\n    address: 10.0.0.13\n';

    it('--standby picks one by name: its host, cluster and address, and its name as the slot', async () => {
      const options = await parseOptions(['setup', '--config', configFile(two), '--standby', 'db3'], {});
      expect(options).toMatchObject({ primary: 'root@db1', standby: 'admin@db3:2222', slot: 'db3', standbyAddress: '10.0.0.13' });
      expect(options.standbyCluster).toBeUndefined();
      expect(await parseOptions(['setup', '--config', configFile(two), '--standby', 'db2', '--standby-cluster', '15/other'], {})).toMatchObject({ standby: 'admin@db2', slot: 'db2', standbyCluster: '15/other' });
    });

    it('takes the only standby without --standby, and asks for a name when there are several', async () => {
      expect(await parseOptions(['status', '--config', configFile('standbys:\n  - { name: db2, host: db2 }\n')], {})).toMatchObject({ standby: 'db2', slot: 'db2' });
      await expect(parseOptions(['status', '--config', configFile(two)], {})).rejects.toMatchObject({ exitCode: 2, message: /lists several standbys \(db2, db3\)/ });
      await expect(parseOptions(['status', '--config', configFile(two), '--standby', 'db4'], {})).rejects.toThrow(/--standby db4 names none of the standbys .*\(db2, db3\)/);
    });

    it('refuses a name that is no slot name, a name used twice, a missing host, unknown keys and a --slot that is not the name', async () => {
      const refused = (text: string, args: string[] = []) => expect(parseOptions(['setup', '--config', configFile(text), ...args], {})).rejects;
      await refused('standbys:\n  - { name: 15/main, host: db2 }\n').toThrow(/"15\/main" is not a valid replication slot name/);
      await refused('standbys:\n  - { name: db2, host: db2 }\n  - { name: db2, host: db3 }\n').toThrow(/two standbys are named db2/);
      await refused('standbys:\n  - { name: db2 }\n').toThrow(/standby db2 has no host/);
      await refused('standbys:\n  - { name: db2, host: db2, port: 5432 }\n').toThrow(/unknown key "port"/);
      await refused('standbys:\n  - { name: db2, host: db2, upstream: db1 }\n').toThrow(/standby db2's upstream db1 is none of the standbys/);
      await refused('standbys:\n  - { name: db2, host: db2, upstream: db2 }\n').toThrow(/standby db2's upstream db2 is itself/);
      await refused('standbys: db2\n').toThrow(/"standbys" must be a list/);
      await refused('standby: db9\nstandbys:\n  - { name: db2, host: db2 }\n').toThrow(/both "standbys" and "standby"/);
      await refused(two, ['--standby', 'db2', '--slot', 'other']).toThrow(/--slot other differs from standby db2's name/);
    });
  });
});
