import { describe, expect, it } from 'vitest';
import { formatTarget, parseTarget } from '../../src/remote/target.js';
import { privilegeWrapper } from '../../src/remote/host.js';

describe('parseTarget', () => {
  it('reads user, host and port', () => {
    expect(parseTarget('labadmin@10.77.0.11:2222', '--primary')).toEqual({ user: 'labadmin', host: '10.77.0.11', port: 2222 });
    expect(parseTarget('db1', '--primary')).toEqual({ user: undefined, host: 'db1', port: undefined });
    expect(parseTarget('root@[fd00::5]:22', '--standby')).toEqual({ user: 'root', host: 'fd00::5', port: 22 });
  });

  it('names the flag and the expected form when the value is wrong', () => {
    expect(() => parseTarget('a b@host', '--standby')).toThrow(/--standby "a b@host" is not of the form \[user@\]host\[:port\]/);
    expect(() => parseTarget('host:99999', '--primary')).toThrow(/port 99999/);
  });

  it('formats back the way the operator wrote it', () => {
    expect(formatTarget({ user: 'root', host: 'fd00::5', port: 2222 })).toBe('root@[fd00::5]:2222');
    expect(formatTarget({ host: 'db1', port: 22 })).toBe('db1');
  });
});

describe('privilegeWrapper', () => {
  it('uses runuser as root, sudo -n otherwise, nothing when already that user', () => {
    expect(privilegeWrapper('root', 'postgres')).toEqual(['runuser', '-u', 'postgres', '--']);
    expect(privilegeWrapper('root', 'root')).toEqual([]);
    expect(privilegeWrapper('admin', 'postgres')).toEqual(['sudo', '-n', '-u', 'postgres', '--']);
    expect(privilegeWrapper('admin', 'root')).toEqual(['sudo', '-n', '--']);
    expect(privilegeWrapper('postgres', 'postgres')).toEqual([]);
    expect(privilegeWrapper('admin', 'login')).toEqual([]);
  });

  it("becomes the data directory's owner for RunAs 'postgres' (a hand-installed server's account)", () => {
    expect(privilegeWrapper('root', 'postgres', 'kimdubi')).toEqual(['runuser', '-u', 'kimdubi', '--']);
    expect(privilegeWrapper('admin', 'postgres', 'kimdubi')).toEqual(['sudo', '-n', '-u', 'kimdubi', '--']);
    expect(privilegeWrapper('kimdubi', 'postgres', 'kimdubi')).toEqual([]);
    expect(privilegeWrapper('postgres', 'postgres', 'kimdubi')).toEqual(['sudo', '-n', '-u', 'kimdubi', '--']);
  });
});
