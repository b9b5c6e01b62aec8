import { describe, expect, it } from 'vitest';
import { chooseCluster, listClusters, newestClientTools, parseControlFile, parseHostListing, parseLsClusters, systemdUnit } from '../../src/facts/clusters.js';
import { serverControlCommand } from '../../steps/lib/server-control.js';
import { FakeHost } from './fake-host.js';

const lsclusters = [
  '15  prod    5433 online          postgres /srv/pg/prod            /var/log/postgresql/postgresql-15-prod.log',
  '16  replica 5434 online,recovery postgres /var/lib/postgresql/16/replica <unknown>',
  '',
].join('\n');

describe('clusters', () => {
  it('reads pg_lsclusters without assuming Debian defaults', () => {
    const [prod, replica] = parseLsClusters(lsclusters);
    expect(prod).toMatchObject({ id: '15/prod', major: 15, port: 5433, running: true, dataDirectory: '/srv/pg/prod', configDir: '/etc/postgresql/15/prod', binDir: '/usr/lib/postgresql/15/bin' });
    expect(replica).toMatchObject({ id: '16/replica', running: true, logFile: undefined });
  });

  it('chooses by id, name, data directory or port, and asks when several match nothing given', () => {
    const clusters = parseLsClusters(lsclusters);
    expect(chooseCluster(clusters, 'prod', 'primary', 'x')?.id).toBe('15/prod');
    expect(chooseCluster(clusters, '/var/lib/postgresql/16/replica/', 'primary', 'x')?.id).toBe('16/replica');
    expect(chooseCluster(clusters, '5434', 'primary', 'x')?.id).toBe('16/replica');
    expect(chooseCluster(clusters, undefined, 'primary', 'x')).toBeUndefined();
    expect(() => chooseCluster(clusters, 'main', 'standby', 'x')).toThrow(/--standby-cluster "main" matches no cluster.*15\/prod port 5433/);
  });
});

describe('the host listing (one command for pg_lsclusters, systemd, ps, uname -n, os-release)', () => {
  it('splits its output into the parts, each with its exit code; parts the shell never reached count as failed', () => {
    const m = 'pgrepl-part-0123';
    const output = `15 main 5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/x.log\n\n${m} 0\n\n${m} 1\n  1     0 root init\n\n${m} 0\npgw-standby\n\n${m} 0\nPRETTY_NAME="Debian GNU/Linux 12"`;
    expect(parseHostListing(output, m)).toEqual({
      lsclusters: { code: 0, stdout: '15 main 5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/x.log\n' },
      systemd: { code: 1, stdout: '' },
      ps: { code: 0, stdout: '  1     0 root init\n' },
      hostname: { code: 0, stdout: 'pgw-standby\n' },
      osRelease: { code: 255, stdout: '' },
    });
  });
});

describe('listClusters without pg_lsclusters', () => {
  const psOutput = '  1     0 root init\n 812     1 dbadmin postgres\n 813   812 dbadmin postgres\n 900     1 dbadmin postgres\n';
  const postmaster = (pid: string, pidFilePid = pid) => ({
    stdout: `/home1/dbadmin/psql/engn/PGSQL\n/home1/dbadmin/psql/bin/postgres\ndbadmin\n\n11\n${pidFilePid}\n/home1/dbadmin/psql/engn/PGSQL\n1700000000\n3000\n/tmp\n*\n`,
  });

  it("finds a running postmaster by its working directory, binary, data directory's owner and postmaster.pid", async () => {
    const host = new FakeHost([
      [(argv) => argv[0] === 'ps', { stdout: psOutput }],
      [(argv) => argv[0] === 'sh' && argv[4] === '812', postmaster('812')],
      // Another host's postmaster seen through a shared process table: its pid file names another pid here.
      [(argv) => argv[0] === 'sh' && argv[4] === '900', postmaster('900', '812')],
    ]);
    expect(await listClusters(host)).toEqual([
      {
        id: '/home1/dbadmin/psql/engn/PGSQL',
        major: 11,
        port: 3000,
        running: true,
        dataDirectory: '/home1/dbadmin/psql/engn/PGSQL',
        owner: 'dbadmin',
        binDir: '/home1/dbadmin/psql/bin',
        // Where it listens, from its postmaster.pid: discovery needs no second read of it.
        address: { port: 3000, socketDir: '/tmp' },
        manager: 'pg_ctl',
      },
    ]);
  });

  it('finds a stopped cluster named by its data directory, with the binaries recorded in postmaster.opts', async () => {
    const host = new FakeHost([
      [(argv) => argv[0] === 'ps', { stdout: '  1     0 root init\n' }],
      [(argv) => argv[0] === 'stat', { stdout: 'dbadmin\n' }],
      [(argv) => argv[4] === '/home1/dbadmin/psql/engn/PGSQL/PG_VERSION', { stdout: '11\n' }],
      [(argv) => argv[4] === '/home1/dbadmin/psql/engn/PGSQL/postmaster.opts', { stdout: '/home1/dbadmin/psql/bin/postgres "-D" "/home1/dbadmin/psql/engn/PGSQL"\n' }],
      [(argv) => argv[0] === 'getent', { stdout: 'dbadmin:x:1001:1001::/home1/dbadmin:/usr/sbin/nologin\n' }],
      [(argv) => argv[2]?.startsWith('want=') === true, { stdout: '/home1/dbadmin/psql/bin\n' }],
      [(argv) => argv[0] === 'sh' && argv.includes('port'), { stdout: 'port\t3000\n' }],
    ]);
    expect(await listClusters(host, '/home1/dbadmin/psql/engn/PGSQL/')).toEqual([
      { id: '/home1/dbadmin/psql/engn/PGSQL', major: 11, port: 3000, running: false, dataDirectory: '/home1/dbadmin/psql/engn/PGSQL', owner: 'dbadmin', binDir: '/home1/dbadmin/psql/bin', manager: 'pg_ctl' },
    ]);
    const probe = host.commands.find((argv) => argv[2]?.startsWith('want='))!;
    expect(probe.slice(4)).toEqual(['11', '/home1/dbadmin/psql/bin', '/usr/lib/postgresql/11/bin', '/usr/pgsql-11/bin']);
  });

  it('names --standby-bindir when the binaries of a stopped cluster are nowhere', async () => {
    const host = new FakeHost([
      [(argv) => argv[0] === 'ps', { stdout: '  1     0 root init\n' }],
      [(argv) => argv[0] === 'stat', { stdout: 'dbadmin\n' }],
      [(argv) => argv[4] === '/data/pg12/PG_VERSION', { stdout: '12\n' }],
      [(argv) => argv[2]?.startsWith('want=') === true, { code: 3 }],
    ]);
    await expect(listClusters(host, '/data/pg12')).rejects.toMatchObject({
      message: expect.stringMatching(/found no PostgreSQL 12 server binaries for \/data\/pg12/),
      fix: 'pass --standby-bindir with the directory that holds its postgres and pg_ctl',
    });
  });

  it('says PostgreSQL is not installed when there is neither a cluster nor a server binary', async () => {
    const host = new FakeHost([[(argv) => argv[0] === 'ps', { stdout: '  1     0 root init\n' }]]);
    await expect(listClusters(host)).rejects.toMatchObject({
      message: 'PostgreSQL is not installed (no pg_lsclusters, postgres or pg_ctl found)',
      where: 'standby admin@fake',
      fix: 'install the PostgreSQL server packages on this host first',
    });
  });

  it('says no cluster was found when the server is installed but nothing runs', async () => {
    const host = new FakeHost([
      [(argv) => argv[0] === 'ps', { stdout: '  1     0 root init\n' }],
      [(argv) => argv[0] === 'sh', { stdout: '/usr/pgsql-16/bin/postgres\n' }],
    ]);
    await expect(listClusters(host)).rejects.toThrow(/PostgreSQL is installed but no cluster was found/);
  });
});

describe('client tools', () => {
  const listing = [
    '/usr/lib/postgresql/15/bin\tpg_basebackup (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)',
    '/usr/lib/postgresql/13/bin\tpg_basebackup (PostgreSQL) 13.22',
    '/usr/pgsql-18/bin\tpg_basebackup (PostgreSQL) 18.1',
  ].join('\n');

  it('picks the newest pg_basebackup of the server major or later', () => {
    expect(newestClientTools(listing, 11)?.dir).toBe('/usr/pgsql-18/bin');
    expect(newestClientTools(listing.split('\n').slice(0, 2).join('\n'), 11)).toEqual({ dir: '/usr/lib/postgresql/15/bin', basebackupVersion: '15.14 (Debian 15.14-0+deb12u1)' });
  });

  it('finds none when every pg_basebackup is older than the server', () => {
    expect(newestClientTools(listing.split('\n').slice(0, 2).join('\n'), 16)).toBeUndefined();
    expect(newestClientTools('', 10)).toBeUndefined();
  });
});

describe('global/pg_control', () => {
  it('gives the system identifier, the state in pg_controldata words and the timeline', () => {
    expect(parseControlFile('  7713311076101909273\n          5\n          3\n')).toEqual({
      systemIdentifier: '7713311076101909273',
      state: 'in archive recovery',
      timeline: 3,
    });
    expect(parseControlFile('')).toBeUndefined();
  });
});

describe('a server systemd started (PGDG on RHEL)', () => {
  it('is found by its cgroup and driven with systemctl; one started by hand keeps pg_ctl', () => {
    expect(systemdUnit('system.slice/postgresql-16.service')).toBe('postgresql-16.service');
    expect(systemdUnit('')).toBeUndefined();
    const base = { id: '/var/lib/pgsql/16/data', major: 16, port: 5432, running: true, dataDirectory: '/var/lib/pgsql/16/data', owner: 'postgres', binDir: '/usr/pgsql-16/bin' };
    expect(serverControlCommand({ ...base, manager: 'systemctl', unit: 'postgresql-16.service' }, 'restart')).toEqual(['systemctl', 'restart', 'postgresql-16.service']);
    expect(serverControlCommand({ ...base, manager: 'pg_ctl' }, 'start')).toEqual([
      '/usr/pgsql-16/bin/pg_ctl', 'start', '-D', '/var/lib/pgsql/16/data', '-w', '-t', '300', '-l', '/var/lib/pgsql/16/data/pgrepl-startup.log',
    ]);
  });
});
