import { describe, expect, it } from 'vitest';
import { connectionMessage, errorLines, replicationFix } from '../../src/catalog/replication-errors.js';
import { problemLines } from '../../src/facts/server-log.js';
import { cloneFailure, olderClientFix, primaryLogReasons } from '../../src/catalog/clone-failures.js';

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

describe("pg_basebackup's failures during a clone", () => {
  // Each as pg_basebackup printed it on lab 2 (PostgreSQL 15) unless said otherwise; the same words in the 13, 17 and 18 binaries.
  const cut = {
    // pg_terminate_backend of the copy's WAL sender between messages (and a fast restart of the primary).
    streamEnded: 'pg_basebackup: error: COPY stream ended before last file was finished\npg_basebackup: removing data directory "/tmp/bb1"',
    // The WAL sender killed (-9), an immediate restart, or terminated while blocked sending.
    connectionClosed: 'pg_basebackup: error: could not read COPY data: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.',
    // Terminated before any file reached the client.
    beforeFiles: 'pg_basebackup: error: backup failed: FATAL:  terminating connection due to administrator command',
    // PostgreSQL 10–11 print no "error:" (their sources: pg_basebackup.c).
    old: 'pg_basebackup: COPY stream ended before last file was finished',
  };

  it('tells a copy the primary ended from its three texts, and names the primary log as where the reason is', () => {
    for (const text of Object.values(cut)) expect(cloneFailure(errorLines(text).join('\n') || text)?.id).toBe('copy-cut-short');
    expect(cloneFailure(cut.streamEnded)?.cause).toContain("the primary's log says why");
  });

  it('quotes the lines of the primary log that say why the copy ended, not its clients\' errors', () => {
    const failure = cloneFailure(cut.streamEnded)!;
    const log = [
      '2026-11-29 05:42:46.811 UTC [245] LOG:  checkpoint starting: force wait',
      "2026-11-29 05:42:50.100 UTC [380] app@appdb ERROR:  relation \"nosuch\" does not exist",
      '2026-11-29 05:42:56.286 UTC [396] repl@[unknown] FATAL:  terminating connection due to administrator command',
      "2026-11-29 05:42:56.286 UTC [396] repl@[unknown] STATEMENT:  BASE_BACKUP ( LABEL 'pg_basebackup base backup',  PROGRESS,  WAIT 0,  MANIFEST 'yes',  TARGET 'client')",
      '2026-11-29 05:42:56.638 UTC [397] repl@[unknown] LOG:  unexpected EOF on standby connection',
    ].join('\n');
    expect(primaryLogReasons(failure, log)).toEqual([expect.stringContaining('FATAL:  terminating connection due to administrator command'), expect.stringContaining('STATEMENT:  BASE_BACKUP')]);
    const crash = [
      '2026-11-29 05:43:12.832 UTC [241] LOG:  server process (PID 406) was terminated by signal 9: Killed',
      "2026-11-29 05:43:12.832 UTC [241] DETAIL:  Failed process was running: BASE_BACKUP ( LABEL 'pg_basebackup base backup',  PROGRESS,  WAIT 0,  MAX_RATE 100,  MANIFEST 'yes',  TARGET 'client')",
      '2026-11-29 05:43:53.577 UTC [433] LOG:  received immediate shutdown request',
    ].join('\n');
    expect(primaryLogReasons(failure, crash)).toHaveLength(3);
  });

  it('names the other causes: a full standby disk, a non-empty target, a client older than the server', () => {
    const at = { dataDirectory: '/var/lib/postgresql/15/main', primaryMajor: 17 };
    expect(cloneFailure('pg_basebackup: error: could not write to file "/var/lib/postgresql/15/main.pgrepl-new/base/5/1259": No space left on device')?.fix(at)).toContain('next to /var/lib/postgresql/15/main');
    expect(cloneFailure('pg_basebackup: error: directory "/tmp/f3y" exists but is not empty')?.id).toBe('target-not-empty');
    // pg_basebackup 13 (Debian 11's) against the lab's 15 primary; 10–11: "pg_basebackup: incompatible server version 15.20".
    const older = cloneFailure('pg_basebackup: error: incompatible server version 15.20 (Debian 15.20-0+deb12u1)');
    expect(older?.id).toBe('client-too-old');
    expect(older?.fix(at)).toBe(olderClientFix(17));
    expect(olderClientFix(17)).toContain('postgresql-client-17');
  });
});
