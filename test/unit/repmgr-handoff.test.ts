import { describe, expect, it } from 'vitest';
import type { ClusterRef } from '../../src/facts/clusters.js';
import { clusterShowRows, repmgrConf, type HandoffNode } from '../../steps/repmgr-handoff.js';

describe('repmgr cluster show', () => {
  it('reads each node\'s name, role and status from repmgr\'s table, whatever the column widths', () => {
    const output = [
      ' ID | Name         | Role    | Status    | Upstream     | Location | Priority | Timeline | Connection string',
      '----+--------------+---------+-----------+--------------+----------+----------+----------+------------------',
      ' 1  | pgw9-primary | primary | * running |              | default  | 100      | 1        | host=10.77.9.11 port=5433',
      ' 2  | lab_one      | standby |   running | pgw9-primary | default  | 100      | 1        | host=10.77.9.12 port=5432',
      ' 3  | lab_three    | standby | ? unreachable | ? lab_one | default  | 100      |          | host=10.77.9.13 port=5432',
      '',
      'WARNING: following issues were detected',
    ].join('\n');
    expect(clusterShowRows(output)).toEqual([
      { name: 'pgw9-primary', role: 'primary', status: '* running' },
      { name: 'lab_one', role: 'standby', status: 'running' },
      { name: 'lab_three', role: 'standby', status: '? unreachable' },
    ]);
    expect(clusterShowRows('ERROR: connection to database failed')).toEqual([]);
  });
});

describe('repmgr.conf', () => {
  const node = (cluster: Partial<ClusterRef>): HandoffNode =>
    ({ name: 'db2', id: 2, node: { host: { address: '10.0.0.12' }, cluster: { id: '15/main', major: 15, port: 5432, running: true, dataDirectory: '/var/lib/postgresql/15/main', owner: 'postgres', binDir: '/usr/lib/postgresql/15/bin', manager: 'pg_ctlcluster', ...cluster } } }) as HandoffNode;
  const serviceLines = (conf: string) => conf.split('\n').filter((line) => line.startsWith('service_'));

  it('has the service commands repmgr and repmgrd run as the server user, the way the wizard controls the server, with full paths', () => {
    expect(serviceLines(repmgrConf(node({}), 'repl'))).toEqual([
      "service_start_command='/usr/bin/pg_ctlcluster 15 main start'",
      "service_stop_command='/usr/bin/pg_ctlcluster -m fast 15 main stop'",
      "service_restart_command='/usr/bin/pg_ctlcluster -m fast 15 main restart'",
      "service_reload_command='/usr/bin/pg_ctlcluster 15 main reload'",
      "service_promote_command='/usr/bin/pg_ctlcluster 15 main promote'",
    ]);
    // systemd runs it: root's command through sudo -n (a sudo rule for the server user).
    expect(serviceLines(repmgrConf(node({ systemd: true }), 'repl'))[0]).toBe("service_start_command='sudo -n /usr/bin/pg_ctlcluster 15 main start'");
    expect(serviceLines(repmgrConf(node({ manager: 'systemctl', unit: 'postgresql-15.service', id: '/var/lib/pgsql/15/data' }), 'repl'))[2]).toBe(
      "service_restart_command='sudo -n /usr/bin/systemctl restart postgresql-15.service'",
    );
    // A hand-installed server: its own pg_ctl; repmgr promotes with pg_ctl itself.
    const hand = serviceLines(repmgrConf(node({ manager: 'pg_ctl', id: '/home1/dbadmin/psql/engn/PGSQL', dataDirectory: '/home1/dbadmin/psql/engn/PGSQL', binDir: '/home1/dbadmin/psql/bin' }), 'repl'));
    expect(hand[3]).toBe("service_reload_command='/home1/dbadmin/psql/bin/pg_ctl reload -D /home1/dbadmin/psql/engn/PGSQL'");
    expect(hand.some((line) => line.startsWith('service_promote_command'))).toBe(false);
  });
});
