import { describe, expect, it } from 'vitest';
import { chooseCluster, parseLsClusters } from '../../src/discovery/clusters.js';

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
