import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost } from '../../src/remote/connect.js';
import type { SshHost } from '../../src/remote/ssh-host.js';
import * as privileged from '../../src/remote/commands.js';
import type { PrivilegedArgv } from '../../src/remote/commands.js';
import { lab, labUp } from './lab.js';

// The test's own commands, registered nowhere: cast, so that the wrapper's quoting is what is tested.
const asServerUser = (argv: string[]) => argv as unknown as PrivilegedArgv<'postgres'>;

const hostile = ["it's", 'a; touch /tmp/pgrepl-pwned', '$(touch /tmp/pgrepl-pwned)', '`id`', 'two\nlines', ' lead and trail ', '"q" \\b', '*', '-n'];

describe.each(['labadmin', 'root'])('remote access over real SSH as %s', (user) => {
  let host: SshHost;
  beforeAll(async () => {
    labUp();
    host = await connectHost({ role: 'standby', target: `${user}@${lab.standbyIp}`, identity: lab.key, knownHostsFile: lab.knownHosts });
  });
  afterAll(() => host?.close());

  it('delivers hostile arguments literally, as the postgres OS user too', async () => {
    for (const output of [await host.run(['printf', '%s\\0', ...hostile]), await host.run(asServerUser(['printf', '%s\\0', ...hostile]), { as: 'postgres' })]) {
      expect(output.split('\0').slice(0, -1)).toEqual(hostile);
    }
    expect((await host.exec(['test', '-e', '/tmp/pgrepl-pwned'])).code).toBe(1);
    expect((await host.run(asServerUser(['id', '-un']), { as: 'postgres' })).trim()).toBe('postgres');
  });

  it('writes and reads back a file whose name and content are hostile', async () => {
    const path = `/tmp/pgrepl ${user} it's $(x).conf`;
    const content = "line 1 with 'quotes'\n$(not run)\n";
    await host.writeFile(path, content, { as: 'postgres', mode: '640' });
    expect(await host.readFile(path, 'postgres')).toBe(content);
    expect((await host.run(['stat', '-c', '%U %a', path])).trim()).toBe('postgres 640');
    expect(await host.readFile('/tmp/pgrepl-does-not-exist', 'postgres')).toBeNull();
    await host.run(privileged.removeTree([path]), { as: 'postgres' });
  });

  it('writes a secret 0600 and owned by its user over a world-readable file, leaving no temporary file', async () => {
    const path = `/tmp/pgrepl ${user} secret.pgpass`;
    await host.writeFile(path, 'db1:5432:replication:repl:old\n', { as: 'postgres', mode: '644' });
    await host.writeFile(path, 'db1:5432:replication:repl:new\n', { as: 'root', secretOwner: 'postgres' });
    expect((await host.run(['stat', '-c', '%U %a', path])).trim()).toBe('postgres 600');
    expect(await host.readFile(path, 'root')).toBe('db1:5432:replication:repl:new\n');
    expect((await host.run(['sh', '-c', 'ls -a /tmp | grep -c pgrepl-tmp || true'])).trim()).toBe('0');
    await host.run(privileged.removeTree([path]), { as: 'root' });
  });

  it('runs parameterised SQL as postgres over the Unix socket, with the value never in argv', async () => {
    const rows = await host.sql<{ echoed: string; who: string }>({ port: 5432, socketDir: '/var/run/postgresql' }, 'SELECT $1::text AS echoed, current_user AS who', [hostile[1]]);
    expect(rows).toEqual([{ echoed: hostile[1], who: 'postgres' }]);
  });

  it('says which host and cluster when PostgreSQL is not there', async () => {
    await expect(host.sql({ port: 5999, socketDir: '/var/run/postgresql' }, 'SELECT 1')).rejects.toThrow(
      /cannot open a PostgreSQL session on \/var\/run\/postgresql\/\.s\.PGSQL\.5999: could not connect to socket/,
    );
  });
});

describe('ProxyJump with several hops', () => {
  it('reaches the primary through the primary and then the standby, as ssh -J does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgrepl-jumps-'));
    const sshConfigFile = join(dir, 'config');
    writeFileSync(
      sshConfigFile,
      ['Host primary-the-long-way', `  HostName ${lab.primaryIp}`, '  User labadmin', `  ProxyJump labadmin@${lab.primaryIp},root@${lab.standbyIp}`, ''].join('\n'),
    );
    labUp();
    const host = await connectHost({ role: 'primary', target: 'primary-the-long-way', identity: lab.key, knownHostsFile: lab.knownHosts, sshConfigFile });
    try {
      // The last hop, the standby, is who connects to the primary's sshd.
      const [clientAddress] = (await host.run(['sh', '-c', 'echo "$SSH_CONNECTION"'])).trim().split(' ');
      expect(clientAddress).toBe(lab.standbyIp);
      expect((await host.run(['hostname'])).trim()).toMatch(/-primary$/);
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
