import { describe, expect, it } from 'vitest';
import { clusterShowRows } from '../../steps/repmgr-handoff.js';

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
