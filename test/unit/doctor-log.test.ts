import { describe, expect, it } from 'vitest';
import { currentStandbyWindow, currentWindowStart, entryIds, episodeBeforeStreaming, lineTime, parseLog, readServerLog, sinceStart } from '../../src/doctor/log.js';
import type { Node } from '../../steps/contract.js';
import { FakeHost } from './fake-host.js';

// A PG 15 standby log from the lab (log_line_prefix '%m [%p] %q%u@%d '): started, streamed,
// lost its pg_hba entry, streamed again after the fix.
const standbyLog = `2026-11-23 19:36:42.435 UTC [10975] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu
2026-11-23 19:36:42.542 UTC [10978] LOG:  entering standby mode
2026-11-23 19:36:42.565 UTC [10979] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1
2026-11-23 19:36:50.104 UTC [10979] FATAL:  could not receive data from WAL stream: FATAL:  terminating connection due to administrator command
2026-11-23 19:36:50.113 UTC [11480] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption
2026-11-23 19:36:55.114 UTC [11581] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: Connection refused
		Is the server running on that host and accepting TCP/IP connections?
2026-11-23 19:36:55.117 UTC [10978] LOG:  waiting for WAL to become available at 0/30000C8
2026-11-23 19:37:00.120 UTC [11690] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1
`;

const failedStart = `2026-11-23 19:42:46.072 UTC [30939] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu
2026-11-23 19:42:46.079 UTC [30942] FATAL:  recovery aborted because of insufficient parameter settings
2026-11-23 19:42:46.079 UTC [30942] DETAIL:  max_connections = 50 is a lower setting than on the primary server, where its value was 100.
2026-11-23 19:42:46.079 UTC [30942] HINT:  You can restart the server after making the necessary configuration changes.
2026-11-23 19:42:46.123 UTC [30939] LOG:  database system is shut down
pg_ctl: could not start server
Examine the log output.
`;

describe('server log', () => {
  it('keeps DETAIL, HINT and libpq continuation lines with their message and leaves out pg_ctl chatter', () => {
    const entries = parseLog(failedStart);
    expect(entries.map((e) => e.severity)).toEqual(['LOG', 'FATAL', 'LOG']);
    expect(entries[1].more).toEqual([
      '2026-11-23 19:42:46.079 UTC [30942] DETAIL:  max_connections = 50 is a lower setting than on the primary server, where its value was 100.',
      '2026-11-23 19:42:46.079 UTC [30942] HINT:  You can restart the server after making the necessary configuration changes.',
    ]);
    expect(entryIds(entries[1])).toEqual(['hot-standby-params']);
    expect(parseLog(standbyLog)[5].more).toEqual(['\t\tIs the server running on that host and accepting TCP/IP connections?']);
  });

  it('leaves STATEMENT lines out of the evidence', () => {
    const entries = parseLog(`2026-11-23 19:42:17.115 UTC [25904] repl@[unknown] ERROR:  requested WAL segment 000000010000000000000003 has already been removed
2026-11-23 19:42:17.115 UTC [25904] repl@[unknown] STATEMENT:  START_REPLICATION SLOT "pgrepl_10_77_0_12" 0/3000000 TIMELINE 1
`);
    expect(entries).toHaveLength(1);
    expect(entries[0].more).toEqual([]);
  });

  it('reads UTC, offset and journald timestamps, not named local zones', () => {
    expect(lineTime('2026-11-23 19:36:50.113 UTC [11480] FATAL:  x')).toBe(Date.UTC(2026, 10, 23, 19, 36, 50, 113));
    expect(lineTime('2026-11-23T20:36:50.113+0100 db2 postgres[11480]: FATAL:  x')).toBe(Date.UTC(2026, 10, 23, 19, 36, 50, 113));
    expect(lineTime('2026-11-23 19:36:50 CET [11480] FATAL:  x')).toBeUndefined();
  });

  it("a standby's current window starts at its last start or its last start of streaming", () => {
    const entries = parseLog(standbyLog);
    expect(currentStandbyWindow(entries)).toEqual([]);
    expect(currentWindowStart(entries)).toBe(Date.UTC(2026, 10, 23, 19, 37, 0, 120));
    const beforeRecovery = entries.slice(0, -1);
    expect(currentStandbyWindow(beforeRecovery).flatMap(entryIds)).toEqual(['hba-missing', 'primary-unreachable']);
  });

  it('the episode before streaming resumed holds the failures the repair cured', () => {
    const ids = episodeBeforeStreaming(parseLog(standbyLog)).flatMap(entryIds);
    expect(ids).toEqual(['hba-missing', 'primary-unreachable']);
  });

  it("a server's window since its last start is the failed start itself", () => {
    const twoStarts = parseLog(standbyLog + failedStart);
    expect(sinceStart(twoStarts).map((e) => e.severity)).toEqual(['FATAL', 'LOG']);
  });
});

describe('finding the log', () => {
  it("reads the cluster's systemd journal when it writes no log file", async () => {
    const journal = '2026-11-23T19:44:10.825312+00:00 db2 postgres[4551]: 2026-11-23 19:44:10.825 UTC [4551] FATAL:  could not connect to the primary server: connection to server at "10.0.0.1", port 5432 failed: Connection refused\n';
    const host = new FakeHost([
      [(argv) => argv[0] === 'sh', { stdout: '' }], // postgres -C: no logging_collector
      [(argv) => argv[0] === 'journalctl' && argv.includes('postgresql@16-main.service'), { stdout: journal }],
    ]);
    const cluster = { id: '16/main', major: 16, port: 5432, running: false, owner: 'postgres', manager: 'pg_ctlcluster' as const, dataDirectory: '/var/lib/postgresql/16/main', binDir: '/usr/lib/postgresql/16/bin' };
    // Reading the log uses the connection and the cluster only, not what discovery found.
    const node: Node = { host, cluster, facts: {} as Node['facts'] };
    const log = await readServerLog(node);
    expect(log.source).toBe('journald (postgresql@16-main.service)');
    expect(log.entries.map(entryIds)).toEqual([['primary-unreachable']]);
    expect(log.entries[0].at).toBe(Date.UTC(2026, 10, 23, 19, 44, 10, 825));
  });
});
