import { describe, expect, it } from 'vitest';
import { catalog, findingIds, matchConnectionError, matchLogLine } from '../../src/catalog/catalog.js';

/** Real log lines, as PostgreSQL 10–18 write them (texts from shared/reference/postgres-facts.md). */
const samples: [string, string][] = [
  ['hba-missing', '2026-11-23 10:00:01.123 UTC [811] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption'],
  ['hba-missing', '2026-11-23 10:00:01 UTC [9] FATAL:  no pg_hba.conf entry for replication connection from host "10.0.0.2", user "repl", SSL off'],
  ['hba-missing', 'FATAL:  pg_hba.conf rejects replication connection for host "10.0.0.2", user "repl", SSL encryption'],
  ['sysid-mismatch', '2026-11-23 10:00:01 UTC [12] FATAL:  database system identifier differs between the primary and standby'],
  ['wal-removed', 'FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment 000000010000000000000003 has already been removed'],
  ['slot-missing', 'FATAL:  could not start WAL streaming: ERROR:  replication slot "pgrepl_10_77_0_12" does not exist'],
  ['slot-in-use', 'FATAL:  could not start WAL streaming: ERROR:  replication slot "s1" is active for PID 4242'],
  ['wal-senders-exhausted', 'FATAL:  number of requested standby connections exceeds max_wal_senders (currently 1)'],
  ['wal-senders-exhausted', 'FATAL:  number of requested standby connections exceeds "max_wal_senders" (currently 1)'],
  ['auth-failed', 'FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"'],
  ['auth-failed', 'FATAL:  could not connect to the primary server: fe_sendauth: no password supplied'],
  ['tls-failed', 'FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: SSL error: certificate verify failed'],
  ['tls-failed', 'FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: server certificate for "db1.example.com" does not match host name "10.77.0.11"'],
  ['tls-failed', 'FATAL:  could not connect to the primary server: server certificate for "db1" (and 2 other names) does not match host name "10.77.0.11"'],
  ['tls-failed', 'FATAL:  could not connect to the primary server: root certificate file "/var/lib/postgresql/.postgresql/ca.crt" does not exist'],
  ['not-replication-role', 'FATAL:  role "repl" is not permitted to log in'],
  ['not-replication-role', 'FATAL:  must be superuser or replication role to start walsender'],
  ['not-replication-role', 'FATAL:  permission denied to start WAL sender'],
  ['primary-unreachable', 'FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: Connection refused'],
  ['primary-unreachable', 'FATAL:  could not connect to the primary server: could not connect to server: Connection refused'],
  ['primary-unreachable', 'FATAL:  streaming replication receiver "walreceiver" could not connect to the primary server: connection to server at "10.0.0.1", port 5432 failed: Connection refused'],
  ['wal-level-insufficient', 'FATAL:  WAL streaming (max_wal_senders > 0) requires wal_level "replica" or "logical"'],
  ['wal-level-insufficient', 'FATAL:  WAL streaming ("max_wal_senders" > 0) requires "wal_level" "replica" or "logical"'],
  ['wal-level-insufficient', 'FATAL:  WAL was generated with wal_level=minimal, cannot continue recovering'],
  ['wal-level-insufficient', '2026-11-23 19:38:16.297 UTC [15563] FATAL:  physical replication slot "pgrepl_10_77_0_12" exists, but wal_level < replica'],
  ['recovery-conf-unsupported', 'FATAL:  using recovery command file "recovery.conf" is not supported'],
  ['hot-standby-params', 'WARNING:  hot standby is not possible because of insufficient parameter settings'],
  ['hot-standby-params', 'DETAIL:  max_connections = 50 is a lower setting than on the primary server, where its value was 100.'],
  ['hot-standby-params', 'FATAL:  recovery aborted because of insufficient parameter settings'],
  ['hot-standby-params', 'FATAL:  promotion is not possible because of insufficient parameter settings'],
  ['hot-standby-params', 'FATAL:  hot standby is not possible because max_connections = 50 is a lower setting than on the master server (its value was 100)'],
  ['primary-conninfo-missing', '2026-11-29 02:40:01.100 UTC [2210] WARNING:  specified neither primary_conninfo nor restore_command'],
  ['primary-conninfo-missing', 'WARNING:  specified neither "primary_conninfo" nor "restore_command"'],
  ['primary-conninfo-missing', 'WARNING:  recovery command file "recovery.conf" specified neither primary_conninfo nor restore_command'],
  ['timeline-diverged', 'FATAL:  could not start WAL streaming: ERROR:  requested starting point 0/5000000 on timeline 1 is not in this server\'s history'],
  ['standby-ahead', 'FATAL:  could not receive data from WAL stream: ERROR:  requested starting point 0/5A000000 is ahead of the WAL flush position of this server 0/59042760'],
  ['checkpoint-missing', 'PANIC:  could not locate a valid checkpoint record'],
  ['checkpoint-missing', 'PANIC:  could not locate a valid checkpoint record at 0/3000028'],
  ['checkpoint-missing', 'FATAL:  could not locate required checkpoint record'],
  ['timeline-diverged', 'FATAL:  highest timeline 1 of the primary is behind recovery timeline 2'],
  ['slot-invalidated', 'LOG:  invalidating obsolete replication slot "s1"'],
  ['slot-invalidated', 'FATAL:  could not start WAL streaming: ERROR:  can no longer access replication slot "s1"'],
  ['slot-invalidated', 'LOG:  invalidating slot "s1" because its restart_lsn 0/1000000 exceeds max_slot_wal_keep_size'],
  ['archive-failing', '2026-11-29 03:05:11.402 UTC [4410] LOG:  archive command failed with exit code 1'],
  ['archive-failing', 'WARNING:  archiving write-ahead log file "000000010000000000000005" failed too many times, will try again later'],
  ['archive-failing', 'WARNING:  archiving transaction log file "000000010000000000000005" failed too many times, will try again later'],
];

describe('doctor catalog', () => {
  it.each(samples)('recognises %s in: %s', (id, line) => {
    expect(matchLogLine(line)).toEqual([id]);
  });

  it('leaves healthy standby lines alone', () => {
    for (const line of ['LOG:  entering standby mode', 'LOG:  started streaming WAL from primary at 0/3000000 on timeline 1', 'LOG:  database system is ready to accept read-only connections']) {
      expect(matchLogLine(line)).toEqual([]);
    }
  });

  it("reads a failed replication connection's psql text: the server's message inside it, or the network failure", () => {
    // psql 15 from the standby, as doctor's probe gets it.
    expect(matchConnectionError('connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption')).toEqual(['hba-missing']);
    expect(matchConnectionError('connection to server at "10.77.0.11", port 5433 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?')).toEqual(['primary-unreachable']);
    expect(matchConnectionError('connection to server at "10.77.0.11", port 5433 failed: fe_sendauth: no password supplied')).toEqual(['auth-failed']);
    expect(matchConnectionError('7711454321759576451|1|0/3000148|')).toEqual([]);
  });

  it('has a complete entry for every id: title, cause, fix, host; only slot-inactive, replication-lag, application-name-collision, archive-space and archive-cleanup are warnings', () => {
    for (const id of findingIds) {
      const spec = catalog[id];
      expect(spec.id).toBe(id);
      expect(spec.title && spec.cause && spec.fix).toBeTruthy();
      expect(['primary', 'standby', 'upstream']).toContain(spec.host);
    }
    expect(findingIds.filter((id) => catalog[id].severity === 'warning')).toEqual(['slot-inactive', 'replication-lag', 'application-name-collision', 'archive-space', 'archive-cleanup']);
  });
});
