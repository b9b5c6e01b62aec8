import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatTarget, parseTarget } from '../../src/remote/target.js';
import { privilegeWrapper } from '../../src/remote/host.js';
import { sudoPassword } from '../../src/remote/sudo.js';

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

describe('privilegeWrapper with a sudo password', () => {
  const sudo = sudoPassword('hunter2 secret');

  it('asks sudo to read it from stdin behind a prompt marker, ignoring a cached timestamp; the password is not in argv', () => {
    const wrapper = privilegeWrapper('admin', 'postgres', 'kimdubi', sudo);
    expect(wrapper.slice(0, 5)).toEqual(['sudo', '-k', '-S', '-p', sudo.prompt]);
    expect(wrapper).toContain('kimdubi');
    expect(wrapper.join(' ')).not.toContain('hunter2');
    expect(sudo.prompt).not.toContain('%');
    // root and the server's own account need no sudo at all
    expect(privilegeWrapper('root', 'postgres', 'kimdubi', sudo)).toEqual(['runuser', '-u', 'kimdubi', '--']);
    expect(privilegeWrapper('kimdubi', 'postgres', 'kimdubi', sudo)).toEqual([]);
  });

  it('prints the ready marker on stderr before the command starts, then the command gets stdin untouched (a real sh)', () => {
    const wrapper = privilegeWrapper('admin', 'root', 'postgres', sudo);
    const shellPart = wrapper.slice(wrapper.indexOf('--') + 1);
    const ran = spawnSync(shellPart[0], [...shellPart.slice(1), 'cat'], { input: 'SELECT 1;\n', encoding: 'utf8' });
    expect(ran.stderr).toBe(`${sudo.ready}\n`);
    expect(ran.stdout).toBe('SELECT 1;\n');
  });
});

