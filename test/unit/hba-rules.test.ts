import { describe, expect, it } from 'vitest';
import {
  addressBytes,
  cidrContains,
  firstMatchingRule,
  hbaLine,
  hostCidr,
  networkContains,
  placeHbaLine,
  taggedLineNumbers,
  type HbaRule,
  type ReplicationClient,
} from '../../steps/lib/hba-rules.js';

const rule = (line_number: number, type: string, database: string, user: string, address: string | null, netmask: string | null, auth_method: string): HbaRule => ({
  line_number,
  type,
  database: database.split(','),
  user_name: user.split(','),
  address,
  netmask,
  auth_method,
  error: null,
});

const host32 = '255.255.255.255';
const v6host = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
// Debian's default pg_hba.conf as pg_hba_file_rules shows it.
const debianDefaults = [
  rule(90, 'local', 'all', 'postgres', null, null, 'peer'),
  rule(95, 'local', 'all', 'all', null, null, 'peer'),
  rule(97, 'host', 'all', 'all', '127.0.0.1', host32, 'scram-sha-256'),
  rule(99, 'host', 'all', 'all', '::1', v6host, 'scram-sha-256'),
  rule(102, 'local', 'replication', 'all', null, null, 'peer'),
  rule(103, 'host', 'replication', 'all', '127.0.0.1', host32, 'scram-sha-256'),
  rule(104, 'host', 'replication', 'all', '::1', v6host, 'scram-sha-256'),
];
const standby: ReplicationClient = { address: '10.77.0.12', role: 'repl', ssl: true, serverNetworks: ['127.0.0.1/8', '10.77.0.11/24'] };

describe('CIDR helpers', () => {
  it('parses IPv4 and IPv6 (compressed, with an IPv4 tail, with a zone)', () => {
    expect(addressBytes('10.77.0.12')).toEqual([10, 77, 0, 12]);
    expect(addressBytes('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(addressBytes('fd00:1::2')).toEqual([0xfd, 0, 0, 1, ...new Array(10).fill(0), 0, 2]);
    expect(addressBytes('::ffff:10.0.0.1')).toEqual([...new Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]);
    expect(addressBytes('fe80::1%eth0')).toEqual(addressBytes('fe80::1'));
    expect(addressBytes('pgw-primary')).toBeUndefined();
  });

  it('contains an address in its network, per family, for IPv4 /32 and IPv6 /128 too', () => {
    expect(cidrContains('10.77.0.0/24', '10.77.0.12')).toBe(true);
    expect(cidrContains('10.77.0.0/24', '10.77.1.12')).toBe(false);
    expect(cidrContains('10.77.0.11/24', '10.77.0.12')).toBe(true);
    expect(cidrContains('10.0.0.0/9', '10.127.255.255')).toBe(true);
    expect(cidrContains('10.0.0.0/9', '10.128.0.0')).toBe(false);
    expect(cidrContains(hostCidr('10.77.0.12'), '10.77.0.12')).toBe(true);
    expect(cidrContains(hostCidr('10.77.0.12'), '10.77.0.13')).toBe(false);
    expect(cidrContains(hostCidr('fd00::12'), 'fd00:0:0:0:0:0:0:12')).toBe(true);
    expect(cidrContains(hostCidr('fd00::12'), 'fd00::13')).toBe(false);
    expect(cidrContains('fd00::/8', 'fdff::1')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '::1')).toBe(false);
    expect(cidrContains('10.0.0.0/x', '10.0.0.1')).toBe(false);
    expect(networkContains('10.77.0.0', '255.255.255.0', '10.77.0.200')).toBe(true);
    expect(networkContains('::1', v6host, '::2')).toBe(false);
  });

  it('writes /32 for IPv4 and /128 for IPv6', () => {
    expect(hostCidr('10.77.0.12')).toBe('10.77.0.12/32');
    expect(hostCidr('fd00::12')).toBe('fd00::12/128');
  });
});

describe('first matching pg_hba rule for a physical replication connection', () => {
  it('finds none in the Debian defaults: "all" does not match replication, and localhost is not the standby', () => {
    expect(firstMatchingRule(debianDefaults, standby)).toBeUndefined();
  });

  it('takes the first match, top to bottom', () => {
    const rules = [...debianDefaults, rule(110, 'host', 'replication', 'all', '10.77.0.0', '255.255.255.0', 'reject'), rule(111, 'host', 'replication', 'repl', '10.77.0.12', host32, 'scram-sha-256')];
    expect(firstMatchingRule(rules, standby)?.line_number).toBe(110);
  });

  it('skips other users, group entries, local and hostnossl lines, and lines with errors', () => {
    const rules = [
      rule(1, 'host', 'replication', 'other', '10.77.0.12', host32, 'trust'),
      rule(2, 'host', 'replication', '+admins', '10.77.0.12', host32, 'trust'),
      rule(3, 'local', 'replication', 'repl', null, null, 'trust'),
      rule(4, 'hostnossl', 'replication', 'repl', '10.77.0.12', host32, 'trust'),
      { ...rule(5, 'host', 'replication', 'repl', '10.77.0.12', host32, 'trust'), error: 'invalid authentication method' },
      rule(6, 'hostssl', 'replication', 'repl', 'all', null, 'md5'),
    ];
    expect(firstMatchingRule(rules, standby)?.line_number).toBe(6);
    // Without SSL, hostssl lines are skipped and hostnossl lines match.
    expect(firstMatchingRule(rules, { ...standby, ssl: false })?.line_number).toBe(4);
  });

  it('matches samenet and samehost against the server\'s own networks', () => {
    expect(firstMatchingRule([rule(7, 'host', 'replication', 'all', 'samehost', null, 'trust'), rule(8, 'host', 'replication', 'all', 'samenet', null, 'md5')], standby)?.line_number).toBe(8);
    expect(firstMatchingRule([rule(8, 'host', 'replication', 'all', 'samenet', null, 'md5')], { ...standby, address: '192.168.1.5' })).toBeUndefined();
  });
});

describe('placing the wizard\'s pg_hba line', () => {
  const line = hbaLine('repl', '10.77.0.12', 'scram-sha-256', 'pgrepl_10_77_0_12');
  const file = '# comment\nlocal all all peer\nhost replication all 10.77.0.0/24 reject\n';

  it('is a host replication line for one address, tagged with the slot name', () => {
    expect(line.split(/\s+/)).toEqual(['host', 'replication', 'repl', '10.77.0.12/32', 'scram-sha-256', '#', 'pgrepl-wizard:', 'pgrepl_10_77_0_12']);
    expect(hbaLine('all', '10.77.0.12', 'md5', 's').split(/\s+/)[2]).toBe('"all"');
  });

  it('goes before the rule that would win, or at the end when none matches', () => {
    expect(placeHbaLine(file, line, 'pgrepl_10_77_0_12', 3)).toBe(`# comment\nlocal all all peer\n${line}\nhost replication all 10.77.0.0/24 reject\n`);
    expect(placeHbaLine(file, line, 'pgrepl_10_77_0_12')).toBe(`${file}${line}\n`);
    expect(placeHbaLine('local all all peer', line, 'pgrepl_10_77_0_12')).toBe(`local all all peer\n${line}\n`);
  });

  it('moves an earlier line of ours instead of adding a second one', () => {
    const once = placeHbaLine(file, line, 'pgrepl_10_77_0_12');
    const twice = placeHbaLine(once, line, 'pgrepl_10_77_0_12', 3);
    expect(taggedLineNumbers(twice, 'pgrepl_10_77_0_12')).toEqual([3]);
    expect(twice.split('\n')).toHaveLength(file.split('\n').length + 1);
    expect(taggedLineNumbers(twice, 'pgrepl_other')).toEqual([]);
  });
});
