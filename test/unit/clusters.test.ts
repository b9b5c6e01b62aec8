import { describe, expect, it } from 'vitest';
import { chooseCluster, listClusters, parseLsClusters } from '../../src/discovery/clusters.js';
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

describe('listClusters without pg_lsclusters', () => {
  const psOutput = '  1     0 root     init\n 812     1 postgres postgres\n 813   812 postgres postgres\n';

  it('finds running postmasters by their working directory and postmaster.pid', async () => {
    const host = new FakeHost([
      [(argv) => argv[0] === 'ps', { stdout: psOutput }],
      [(argv) => argv[1] === '/proc/812/cwd', { stdout: '/srv/pgdata\n' }],
      [(argv) => argv[1] === '/proc/812/exe', { stdout: '/usr/pgsql-16/bin/postgres\n' }],
    ]);
    host.readFile = async (path) =>
      path === '/srv/pgdata/postmaster.pid' ? '812\n/srv/pgdata\n1700000000\n5544\n/tmp\n*\n' : path === '/srv/pgdata/PG_VERSION' ? '16\n' : null;
    expect(await listClusters(host)).toEqual([
      { id: '/srv/pgdata', major: 16, port: 5544, running: true, dataDirectory: '/srv/pgdata', owner: 'postgres', binDir: '/usr/pgsql-16/bin', manager: 'pg_ctl' },
    ]);
  });

  it('says PostgreSQL is not installed when there is neither a cluster nor a server binary', async () => {
    const host = new FakeHost([[(argv) => argv[0] === 'ps', { stdout: '  1     0 root     init\n' }]]);
    await expect(listClusters(host)).rejects.toMatchObject({
      message: 'PostgreSQL is not installed (no pg_lsclusters, postgres or pg_ctl found)',
      where: 'standby admin@fake',
      fix: 'install the PostgreSQL server packages on this host first',
    });
  });

  it('says no cluster was found when the server is installed but nothing runs', async () => {
    const host = new FakeHost([
      [(argv) => argv[0] === 'ps', { stdout: '  1     0 root     init\n' }],
      [(argv) => argv[0] === 'sh', { stdout: '/usr/pgsql-16/bin/postgres\n' }],
    ]);
    await expect(listClusters(host)).rejects.toThrow(/PostgreSQL is installed but no cluster was found/);
  });
});
