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
    const options = await parseOptions(['setup'], { PGREPL_PASSWORD: 's3cret', SSH_AUTH_SOCK: '/run/agent.sock' });
    expect(options).toMatchObject({ password: 's3cret', sshAgentSocket: '/run/agent.sock' });
    await expect(parseOptions(['--config', configFile('password: s3cret\n')], {})).rejects.toThrow(/unknown key "password"/);
    expect((await parseOptions(['setup'], { PGREPL_PASSWORD: '' })).password).toBeUndefined();
  });

  it('carries the sudo passwords from the environment: one per host wins over the one for both', async () => {
    const both = await parseOptions(['setup'], { PGREPL_SUDO_PASSWORD: 'both' });
    expect(both.sudoPasswords).toEqual({ primary: 'both', standby: 'both' });
    const split = await parseOptions(['setup'], { PGREPL_SUDO_PASSWORD: 'both', PGREPL_STANDBY_SUDO_PASSWORD: 'standby-only' });
    expect(split.sudoPasswords).toEqual({ primary: 'both', standby: 'standby-only' });
    expect((await parseOptions(['setup'], {})).sudoPasswords).toEqual({ primary: undefined, standby: undefined });
    await expect(parseOptions(['--config', configFile('sudoPassword: s3cret\n')], {})).rejects.toThrow(/unknown key "sudoPassword"/);
  });

  it('names the missing config file', async () => {
    await expect(parseOptions(['--config', '/nonexistent/w.yaml'], {})).rejects.toThrow(/cannot read config file \/nonexistent\/w.yaml: ENOENT/);
  });
});
