import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WizardError } from '../../src/errors.js';
import { loadSshConfig, parseSshConfig, resolveSshHost, type SshConfigContext } from '../../src/remote/ssh-config.js';

/** What `ssh -G` (OpenSSH itself) resolves for a target under HOME=home: each keyword's values. */
function sshG(home: string, target: string): (keyword: string) => string[] {
  const output = execFileSync('ssh', ['-G', '-F', join(home, '.ssh', 'config'), target], {
    encoding: 'utf8',
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return (keyword) =>
    output
      .split('\n')
      .filter((line) => line.startsWith(`${keyword} `))
      .map((line) => line.slice(keyword.length + 1));
}


const alice: SshConfigContext = { homeDir: '/home/alice', localUser: 'alice' };

function resolve(text: string, alias: string) {
  return resolveSshHost(parseSshConfig(text), alias, alice);
}

describe('resolveSshHost', () => {
  it('defaults to the alias, lower-cased, when nothing applies', () => {
    expect(resolve('', 'DB1')).toEqual({ hostName: 'db1', identityFiles: [] });
  });

  it('keeps the first value obtained, so specific blocks go before Host *', () => {
    const config = `
Port 2200
Host db1
  HostName db1.internal
  User postgres
  Port 2201
Host *
  User admin
  HostName ignored.example.com
`;
    expect(resolve(config, 'db1')).toEqual({ hostName: 'db1.internal', user: 'postgres', port: 2200, identityFiles: [] });
    expect(resolve(config, 'db2')).toEqual({ hostName: 'ignored.example.com', user: 'admin', port: 2200, identityFiles: [] });
  });

  it('applies a Host line with several patterns, wildcards and negation', () => {
    const config = `
Host primary replica
  User pg
Host db? !db9
  Port 2222
Host *.example.com !bastion.example.com
  ProxyJump jump@bastion.example.com:2022
`;
    expect(resolve(config, 'replica').user).toBe('pg');
    expect(resolve(config, 'db1').port).toBe(2222);
    expect(resolve(config, 'db10').port).toBeUndefined();
    expect(resolve(config, 'db9').port).toBeUndefined();
    expect(resolve(config, 'pg.example.com').proxyJump).toBe('jump@bastion.example.com:2022');
    expect(resolve(config, 'bastion.example.com').proxyJump).toBeUndefined();
  });

  it('matches Host patterns case-sensitively against the alias as typed, like ssh', () => {
    const config = 'Host db1\n  User pg\n';
    expect(resolve(config, 'db1').user).toBe('pg');
    expect(resolve(config, 'DB1').user).toBeUndefined();
  });

  it('accumulates IdentityFile and expands ~ and % tokens', () => {
    const config = `
Host db1
  HostName DB1.Example.com
  User postgres
  Port 2201
  IdentityFile ~/.ssh/id_%h_%r
Host *
  IdentityFile %d/keys/%u@%n:%p_100%%
  IdentityFile /etc/ssh/shared_key
`;
    expect(resolve(config, 'db1').identityFiles).toEqual([
      '/home/alice/.ssh/id_db1.example.com_postgres',
      '/home/alice/keys/alice@db1:2201_100%',
      '/etc/ssh/shared_key',
    ]);
    // %r falls back to the local user and %p to 22 when not configured.
    expect(resolve('IdentityFile ~/%r_%p', 'x').identityFiles).toEqual(['/home/alice/alice_22']);
  });

  it('expands %h in HostName to the alias', () => {
    expect(resolve('Host *\n  HostName %h.Example.com\n', 'Db1').hostName).toBe('db1.example.com');
  });

  it('accepts Key=value, case-insensitive keywords, quotes and comments', () => {
    const config = `
# a comment
HOSTNAME=db1.internal
user = "bob"
Port= 2222 # trailing comment
identityFile ="/keys/with space/id"
IdentityFile /keys/escaped\\ space
IdentitiesOnly=yes
`;
    expect(resolve(config, 'x')).toEqual({
      hostName: 'db1.internal',
      user: 'bob',
      port: 2222,
      identityFiles: ['/keys/with space/id', '/keys/escaped space'],
      identitiesOnly: true,
    });
  });

  it('treats a quoted Host pattern with a space as one pattern', () => {
    const config = 'Host "a b"\n  User quoted\n';
    expect(resolve(config, 'a').user).toBeUndefined();
    expect(resolve(config, 'a b').user).toBe('quoted');
  });

  it('resolves ProxyJump, and ProxyJump none blocks later values', () => {
    const config = `
Host db1
  ProxyJump admin@bastion:2022,second
Host internal
  ProxyJump none
Host *
  ProxyJump default-bastion
`;
    expect(resolve(config, 'db1').proxyJump).toBe('admin@bastion:2022,second');
    expect(resolve(config, 'internal').proxyJump).toBeUndefined();
    expect(resolve(config, 'other').proxyJump).toBe('default-bastion');
  });

  it('refuses a Match block it cannot judge when it sets something used, naming the file and line', () => {
    const config = parseSshConfig('Host *\n  Port 2200\nMatch host db1 exec "test -e /x"\n  User from-match\n', '/home/alice/.ssh/config');
    let refusal: unknown;
    try {
      resolveSshHost(config, 'db1', alice);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(WizardError);
    expect(refusal).toMatchObject({ where: '/home/alice/.ssh/config line 3', message: expect.stringMatching(/Match exec cannot be judged .* sets user/) });
    expect((refusal as WizardError).fix).toMatch(/Host block/);
    // Another host fails the judged criterion first, so exec decides nothing, as in ssh.
    expect(resolveSshHost(config, 'db2', alice)).toEqual({ hostName: 'db2', port: 2200, identityFiles: [] });
    // A block that sets nothing read here cannot change the answer.
    expect(resolve('Match exec "true"\n  ForwardAgent yes\nHost *\n  User u\n', 'db1')).toEqual({ hostName: 'db1', user: 'u', identityFiles: [] });
  });

  it('refuses ProxyCommand and DNS canonicalisation where they apply', () => {
    expect(() => resolve('Host db1\n  ProxyCommand ssh -W %h:%p bastion\n', 'db1')).toThrow(/ProxyCommand is not supported/);
    // ProxyJump and ProxyCommand share one slot: the first one wins.
    expect(resolve('Host db1\n  ProxyJump bastion\n  ProxyCommand nc %h %p\n', 'db1').proxyJump).toBe('bastion');
    expect(resolve('Host db1\n  ProxyCommand none\n  ProxyJump bastion\n', 'db1').proxyJump).toBeUndefined();
    expect(() => resolve('CanonicalizeHostname yes\nCanonicalDomains example.com\n', 'db1')).toThrow(WizardError);
  });

  it('rejects what ssh rejects in Match lines', () => {
    expect(() => parseSshConfig('Match host')).toThrow(/line 1: missing Match criteria for host/);
    expect(() => parseSshConfig('Match all host x')).toThrow(/cannot be combined/);
    expect(() => parseSshConfig('Match hots x')).toThrow(/unsupported Match attribute hots/);
  });

  it('rejects what ssh rejects', () => {
    expect(() => parseSshConfig('Host x\n  Port 99999\n')).toThrow(/line 2: bad port/);
    expect(() => parseSshConfig('IdentitiesOnly maybe')).toThrow(/yes\/no/);
    expect(() => parseSshConfig('User "bob')).toThrow(/unterminated quote/);
    expect(() => parseSshConfig('Host')).toThrow(/missing argument/);
    expect(() => resolve('IdentityFile ~/%Z', 'x')).toThrow(/%Z/);
    // Keywords outside the subset are ignored, whatever their value.
    expect(resolve('ForwardAgent yes\nServerAliveInterval 30\n', 'x')).toEqual({ hostName: 'x', identityFiles: [] });
  });
});

describe('loadSshConfig', () => {
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'ssh-config-test-'));
    mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true });
    writeFileSync(
      join(home, '.ssh', 'config'),
      [
        'Host db1',
        '  Include conf.d/*.conf',
        '  User after-include',
        'Host db2',
        `  Include ${join(home, 'absolute.conf')} missing.conf`,
        'Host *',
        '  IdentityFile ~/.ssh/id_default',
        '',
      ].join('\n'),
    );
    // Included files start in the including block's state; their Host lines
    // change it only until the end of the file.
    writeFileSync(join(home, '.ssh', 'conf.d', 'a.conf'), 'Port 2201\nHost nomatch\n  User never\n');
    writeFileSync(join(home, '.ssh', 'conf.d', 'b.conf'), 'IdentityFile ~/.ssh/id_b\nHost *\n  HostName from-b\n');
    writeFileSync(join(home, '.ssh', 'conf.d', 'ignored.txt'), 'Port 1\n');
    writeFileSync(join(home, 'absolute.conf'), 'User from-absolute\n');
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('returns an empty config when the file is missing', async () => {
    const config = await loadSshConfig(join(home, 'nope'), home);
    expect(config.items).toEqual([]);
  });

  it('follows relative globbed and absolute Includes', async () => {
    const config = await loadSshConfig(undefined, home);
    const context = { homeDir: home, localUser: 'alice' };
    expect(resolveSshHost(config, 'db1', context)).toEqual({
      hostName: 'from-b',
      user: 'after-include',
      port: 2201,
      identityFiles: [join(home, '.ssh', 'id_b'), join(home, '.ssh', 'id_default')],
    });
    expect(resolveSshHost(config, 'db2', context)).toEqual({
      hostName: 'db2',
      user: 'from-absolute',
      identityFiles: [join(home, '.ssh', 'id_default')],
    });
  });

  it('never applies files included from a block that does not match', async () => {
    const config = await loadSshConfig(undefined, home);
    // conf.d/b.conf has `Host *`, but it is included under `Host db1`.
    expect(resolveSshHost(config, 'db3', { homeDir: home, localUser: 'alice' })).toEqual({
      hostName: 'db3',
      identityFiles: [join(home, '.ssh', 'id_default')],
    });
  });

  it('agrees with ssh -G on the same files', async () => {
    const config = await loadSshConfig(undefined, home);
    const context = { homeDir: home, localUser: userInfo().username };
    for (const alias of ['db1', 'db2', 'db3']) {
      const values = sshG(home, alias);
      const resolved = resolveSshHost(config, alias, context);
      expect([resolved.hostName]).toEqual(values('hostname'));
      expect([String(resolved.port ?? 22)]).toEqual(values('port'));
      expect([resolved.user ?? context.localUser]).toEqual(values('user'));
      // ssh -G prints identity files before ~ expansion.
      expect(resolved.identityFiles).toEqual(values('identityfile').map((file) => file.replace(/^~/, home)));
    }
  });
});

describe('Match and ProxyJump agree with ssh -G', () => {
  let home: string;
  const localUser = userInfo().username;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'ssh-config-match-'));
    mkdirSync(join(home, '.ssh'));
    writeFileSync(
      join(home, '.ssh', 'config'),
      [
        'Host web*',
        '  HostName %h.internal.example.com',
        // Match host sees the HostName set above; originalhost the alias as typed.
        'Match host *.internal.example.com !originalhost web9',
        '  Port 2201',
        'Match originalhost db1,DB3',
        '  HostName 10.0.0.1',
        'Match originalhost db2',
        '  HostName 10.0.0.2',
        'Match host 10.0.0.* user ops',
        '  IdentityFile ~/.ssh/id_ops',
        `Match localuser ${localUser} !user admin`,
        '  IdentityFile ~/.ssh/id_local',
        'Match !localuser nobody-here originalhost DB2',
        '  ProxyJump jump1,admin@jump2:2222,ssh://jump3',
        // Settings from the final pass only apply where nothing set them before.
        'Match final host web1.internal.example.com',
        '  User from-final',
        '  ProxyJump late-bastion',
        'Match canonical user from-final',
        '  IdentityFile ~/.ssh/id_final',
        'Match all',
        '  IdentityFile ~/.ssh/id_default',
        '',
      ].join('\n'),
    );
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it.each(['web1', 'web9', 'db1', 'db2', 'db3', 'ops@db1', 'admin@db2', 'other'])('%s', async (target) => {
    const config = await loadSshConfig(undefined, home);
    const [user, alias] = target.includes('@') ? target.split('@') : [undefined, target];
    const values = sshG(home, target);
    const resolved = resolveSshHost(config, alias, { homeDir: home, localUser }, { user });
    expect([resolved.hostName]).toEqual(values('hostname'));
    expect([String(resolved.port ?? 22)]).toEqual(values('port'));
    expect([resolved.user ?? localUser]).toEqual(values('user'));
    expect(resolved.identityFiles).toEqual(values('identityfile').map((file) => file.replace(/^~/, home)));
    expect(resolved.proxyJump ? [resolved.proxyJump] : []).toEqual(values('proxyjump'));
  });
});
