import { describe, expect, it } from 'vitest';
import { connectionMessage, errorLines, replicationFix } from '../../src/catalog/replication-errors.js';
import { problemLines } from '../../src/facts/server-log.js';

const endpoints = {
  roleName: 'repl',
  slotName: 'pgrepl_10_77_0_12',
  primaryAddress: '10.77.0.11',
  primaryPort: 5433,
  standbyAddress: '10.77.0.12',
  passfile: '/var/lib/postgresql/.pgpass',
};

// stderr of psql / pg_basebackup 15 as captured against a test cluster and the lab.
const samples = {
  hba: 'pg_basebackup: error: connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption\n',
  password: 'psql: error: connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"\npassword retrieved from file "/var/lib/postgresql/.pgpass"\n',
  noPassword: 'pg_basebackup: error: connection to server at "10.77.0.11", port 5433 failed: fe_sendauth: no password supplied\n',
  refused: 'psql: error: connection to server at "10.77.0.11", port 5433 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n',
  timeout: 'psql: error: connection to server at "10.77.0.99", port 5433 failed: timeout expired\n',
  slot: 'pg_basebackup: initiating base backup, waiting for checkpoint to complete\npg_basebackup: checkpoint completed\npg_basebackup: write-ahead log start point: 0/14000028 on timeline 1\npg_basebackup: starting background WAL receiver\npg_basebackup: error: could not send replication command "START_REPLICATION": ERROR:  replication slot "nosuch" does not exist\npg_basebackup: error: background process terminated unexpectedly\npg_basebackup: removing data directory "/tmp/me/bbx"\n',
  walsenders: 'pg_basebackup: error: connection to server at "127.0.0.1", port 55432 failed: FATAL:  number of requested standby connections exceeds max_wal_senders (currently 1)\n',
};

describe('replication connection errors', () => {
  it('names the exact pg_hba.conf line for a missing replication entry', () => {
    expect(replicationFix(samples.hba, endpoints)).toContain('"host replication repl 10.77.0.12/32 scram-sha-256"');
  });

  it('points a wrong password at the passfile and the role', () => {
    expect(replicationFix(samples.password, endpoints)).toContain('/var/lib/postgresql/.pgpass');
    expect(replicationFix(samples.noPassword, endpoints)).toContain('10.77.0.11:5433:replication:repl');
  });

  it('tells a refused connection (listen_addresses) from a timeout (firewall)', () => {
    expect(replicationFix(samples.refused, endpoints)).toContain('listen_addresses');
    expect(replicationFix(samples.timeout, endpoints)).toContain('firewall');
  });

  it('creates a missing slot and raises exhausted walsenders', () => {
    expect(replicationFix(samples.slot, endpoints)).toBe("on the primary: SELECT pg_create_physical_replication_slot('pgrepl_10_77_0_12')");
    expect(replicationFix(samples.walsenders, endpoints)).toContain('max_wal_senders');
    expect(replicationFix(samples.walsenders.replace('max_wal_senders', '"max_wal_senders"'), endpoints)).toContain('raise max_wal_senders');
  });

  it('keeps only the error lines of pg_basebackup output', () => {
    expect(errorLines(samples.slot)).toEqual([
      'pg_basebackup: error: could not send replication command "START_REPLICATION": ERROR:  replication slot "nosuch" does not exist',
      'pg_basebackup: error: background process terminated unexpectedly',
    ]);
  });

  it("quotes a failed psql connection as PostgreSQL and libpq word it, without psql's prefix", () => {
    expect(connectionMessage(samples.password)).toBe(
      'connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"\npassword retrieved from file "/var/lib/postgresql/.pgpass"',
    );
    expect(connectionMessage(samples.refused)).toBe('connection to server at "10.77.0.11", port 5433 failed: Connection refused\nIs the server running on that host and accepting TCP/IP connections?');
    // psql 10/11 print no "error:".
    expect(connectionMessage('psql: could not connect to server: Connection refused\n\tIs the server running on host "10.77.0.11" and accepting\n\tTCP/IP connections on port 5433?\n')).toBe(
      'could not connect to server: Connection refused\nIs the server running on host "10.77.0.11" and accepting\nTCP/IP connections on port 5433?',
    );
  });

  it('recognises start failures from the standby log', () => {
    expect(replicationFix('FATAL:  data directory "/var/lib/postgresql/15/main" has invalid permissions', endpoints)).toContain('chmod 0700');
    expect(replicationFix('FATAL:  recovery aborted because of insufficient parameter settings', endpoints)).toContain("primary's value");
  });

  it('offers no fix for a text it does not know', () => {
    expect(replicationFix('pg_basebackup: error: something new', endpoints)).toBeUndefined();
  });
});

describe('server log problem lines', () => {
  const log = [
    '2026-11-23 19:20:01.100 UTC [900] LOG:  entering standby mode',
    '2026-11-23 19:20:01.200 UTC [901] FATAL:  the database system is starting up',
    '2026-11-23 19:20:02.000 UTC [902] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"',
    '2026-11-23 19:20:07.000 UTC [903] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"',
    '2026-11-23 19:20:08.000 UTC [904] WARNING:  hot standby is not possible because of insufficient parameter settings',
    '2026-11-23 19:20:08.000 UTC [904] DETAIL:  max_connections = 100 is a lower setting than on the primary server, where its value was 200.',
    '2026-11-23 19:20:08.000 UTC [904] LOG:  recovery has paused',
  ].join('\n');

  it('keeps the reasons once, with their DETAIL, and drops our own connection attempts', () => {
    expect(problemLines(log)).toEqual([
      'FATAL: could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"',
      'WARNING: hot standby is not possible because of insufficient parameter settings',
      'DETAIL: max_connections = 100 is a lower setting than on the primary server, where its value was 200.',
    ]);
  });

  it('finds nothing in a healthy start', () => {
    expect(problemLines('LOG:  entering standby mode\nLOG:  started streaming WAL from primary at 0/3000000 on timeline 1\n')).toEqual([]);
  });
});
