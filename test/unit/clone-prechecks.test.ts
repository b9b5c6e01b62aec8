import { describe, expect, it } from 'vitest';
import { sampleSettings } from './fixtures.js';
import { judgeCloneFacts, type CloneFacts, type PrimaryCloneFacts } from '../../steps/lib/clone-prechecks.js';

const settings = sampleSettings;

const primary: PrimaryCloneFacts = {
  versionNum: 150015,
  version: '15.15',
  inRecovery: false,
  walLevel: 'replica',
  maxWalSenders: 10,
  walsenders: 0,
  maxReplicationSlots: 10,
  walKeep: '0',
  hotStandby: 'on',
  archiveMode: 'off',
  archiveCommand: '',
  archiveLibrary: '',
  dataChecksums: 'off',
  walLogHints: 'on',
  systemIdentifier: '7300000000000000001',
  dataDirectory: '/var/lib/postgresql/15/prod',
  dataBytes: 10 * 1024 ** 3,
  tablespaces: [],
  standbyUser: { name: 'postgres', canLogin: true },
  slot: { slot_type: 'physical', active: false, active_pid: null, wal_status: 'reserved' },
  hotStandbyMinimums: { max_connections: '100', max_worker_processes: '8', max_prepared_transactions: '0', max_locks_per_transaction: '64', max_wal_senders: '10' },
};

// The lab: two hosts on one machine share the running kernel, not the data directory.
const healthy: CloneFacts = {
  primary,
  primaryHost: { label: 'labadmin@10.77.0.11', cluster: { bootId: 'd5a12016-cfc6-4a2f-9d41-a7e7ea94cda8', directory: '2049:1310722' } },
  primaryPort: 5433,
  standby: {
    major: 15,
    port: 5432,
    dataDirectory: '/var/lib/postgresql/15/main',
    basebackupVersion: '15.15 (Debian 15.15-0+deb12u1)',
    running: true,
    systemIdentifier: '7300000000000000002',
    freeBytes: 20 * 1024 ** 3,
    leftoverBytes: 0,
    dataDirIsMountPoint: false,
    spaces: [{ path: '/var/lib/postgresql/15', mount: '/', available: 20 * 1024 ** 3, nonEmpty: true }],
  },
  standbyHost: { label: 'labadmin@10.77.0.12', cluster: { bootId: 'd5a12016-cfc6-4a2f-9d41-a7e7ea94cda8', directory: '2049:1442051' } },
  connection: { ran: true, ok: true, output: '7300000000000000001|1|0/3000148|' },
  pgRewind: { primary: true, standby: true },
};

const verdict = (facts: CloneFacts, name: string) => judgeCloneFacts(facts, settings).find((f) => f.name === name)!;

describe('clone prechecks', () => {
  it('passes a healthy pair, a slot covering WAL retention', () => {
    const findings = judgeCloneFacts(healthy, settings);
    expect(findings.filter((f) => f.status !== 'ok')).toEqual([]);
    expect(verdict(healthy, 'wal-retention').detail).toContain('slot pgrepl_10_77_0_12');
    expect(verdict(healthy, 'not-the-primary').detail).toContain('same running kernel, different data directory');
  });

  it('accepts two servers cloned from one image: same host name, data directory path and port, another kernel', () => {
    const twin = {
      ...healthy,
      standbyHost: { label: 'admin@image-twin', cluster: { bootId: '0f0e7a51-2b7c-4c1e-9a51-1d2f3c4b5a69', directory: '2049:1310722' } },
      standby: { ...healthy.standby, dataDirectory: primary.dataDirectory, port: 5433 },
    };
    expect(verdict(twin, 'not-the-primary')).toMatchObject({ status: 'ok', detail: expect.stringContaining('different machine') });
  });

  it("names the standby's hot-standby settings below the primary's, which step 6 raises after the clone", () => {
    const low = { ...healthy, standby: { ...healthy.standby, hotStandbyMinimums: { ...primary.hotStandbyMinimums, max_connections: '50', max_wal_senders: '5' } } };
    expect(verdict(low, 'hot-standby-settings')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^lower on the standby than on the primary: max_connections = 50 \(primary 100\), max_wal_senders = 5 \(primary 10\): .* step 6 raises them/),
    });
    expect(verdict({ ...healthy, standby: { ...healthy.standby, hotStandbyMinimums: primary.hotStandbyMinimums } }, 'hot-standby-settings').detail).toMatch(/^max_connections, .* are at least the primary's on the standby/);
    expect(verdict(healthy, 'hot-standby-settings').detail).toMatch(/^the standby's cluster is stopped: step 6 compares/);
  });

  it('needs two free walsenders for pg_basebackup -X stream', () => {
    const finding = verdict({ ...healthy, primary: { ...primary, maxWalSenders: 3, walsenders: 2 } }, 'free-walsenders');
    expect(finding).toMatchObject({ status: 'fail', side: 'primary', earlierSteps: true });
    expect(finding.detail).toContain('only 1 of max_wal_senders = 3 free');
  });

  it('fails a missing or busy slot, with the SQL that fixes it', () => {
    expect(verdict({ ...healthy, primary: { ...primary, slot: null } }, 'replication-slot').fix).toBe(
      "on the primary: SELECT pg_create_physical_replication_slot('pgrepl_10_77_0_12')",
    );
    expect(verdict({ ...healthy, primary: { ...primary, slot: { ...primary.slot!, active: true, active_pid: 4242 } } }, 'replication-slot').detail).toContain('pid 4242');
  });

  it('counts the space a leftover side directory frees and refuses when the copy does not fit', () => {
    const tight = { ...healthy.standby, freeBytes: 10 * 1024 ** 3 };
    expect(verdict({ ...healthy, standby: tight }, 'free-disk').status).toBe('fail');
    expect(verdict({ ...healthy, standby: { ...tight, leftoverBytes: 2 * 1024 ** 3 } }, 'free-disk').status).toBe('ok');
  });

  it("refuses a standby run by an OS user the primary has no role for (cross-layout), naming the role to create", () => {
    const facts = { ...healthy, primary: { ...primary, standbyUser: { name: 'dbadmin', canLogin: null } } };
    expect(verdict(facts, 'standby-os-user-role')).toMatchObject({
      status: 'fail',
      side: 'standby',
      earlierSteps: false,
      fix: expect.stringContaining('on the primary: CREATE ROLE dbadmin LOGIN SUPERUSER'),
    });
  });

  describe('tablespaces', () => {
    const ts = (name: string, location: string, target = location) => ({ oid: String(16000 + Number(name.slice(2))), name, location, bytes: 3 * 1024 ** 3, target });
    const withSpaces = (tablespaces: PrimaryCloneFacts['tablespaces'], spaces: CloneFacts['standby']['spaces']) => ({
      ...healthy,
      primary: { ...primary, tablespaces },
      standby: { ...healthy.standby, spaces: [...healthy.standby.spaces, ...spaces] },
    });

    it('clones each into a side directory, keeping a non-empty one renamed', () => {
      const facts = withSpaces([ts('ts1', '/srv/ts1'), ts('ts2', '/srv/ts2', '/mnt/ts2')], [
        { path: '/srv/ts1', mount: '/srv', available: 5 * 1024 ** 3, nonEmpty: true },
        { path: '/mnt/ts2', mount: '/mnt', available: 5 * 1024 ** 3, nonEmpty: false },
      ]);
      expect(verdict(facts, 'tablespaces')).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/2 tablespaces, .*ts1 at \/srv\/ts1, ts2 \/srv\/ts2 -> \/mnt\/ts2; not empty now, kept renamed .*: \/srv\/ts1$/),
      });
      expect(verdict(facts, 'free-disk').status).toBe('ok');
    });

    it('checks free space per filesystem: two tablespaces on one that holds only one', () => {
      const facts = withSpaces([ts('ts1', '/srv/ts1'), ts('ts2', '/srv/ts2')], [
        { path: '/srv/ts1', mount: '/srv', available: 5 * 1024 ** 3, nonEmpty: false },
        { path: '/srv/ts2', mount: '/srv', available: 5 * 1024 ** 3, nonEmpty: false },
      ]);
      expect(verdict(facts, 'free-disk')).toMatchObject({ status: 'fail', detail: '5.0 GB free on /srv, tablespace ts1 and tablespace ts2 need 6.6 GB (+10%)' });
    });

    it('refuses a --tablespace-map entry that names no tablespace, and two tablespaces on one path', () => {
      const typo = judgeCloneFacts(withSpaces([ts('ts1', '/srv/ts1')], []), { ...settings, tablespaceMap: { '/srv/tsl': '/mnt/ts1' } }).find((f) => f.name === 'tablespaces')!;
      expect(typo).toMatchObject({ status: 'fail', detail: expect.stringContaining('--tablespace-map names /srv/tsl, which is no tablespace location of the primary (it has: ts1 at /srv/ts1)') });
      const clash = verdict(withSpaces([ts('ts1', '/srv/ts1', '/mnt/x'), ts('ts2', '/srv/ts2', '/mnt/x')], []), 'tablespaces');
      expect(clash).toMatchObject({ status: 'fail', detail: expect.stringContaining('tablespace ts2 would go to /mnt/x') });
    });
  });

  it("refuses the primary's own cluster and a standby cluster that serves standbys itself", () => {
    const sameMachine = { ...healthy, standbyHost: healthy.primaryHost, standby: { ...healthy.standby, dataDirectory: primary.dataDirectory } };
    expect(verdict(sameMachine, 'not-the-primary').status).toBe('fail');
    // Reached through another path (a symlink, a bind mount): still one running postmaster.
    const postmaster = '4242\n/var/lib/postgresql/15/prod\n1764300000\n5433';
    const samePostmaster = {
      ...healthy,
      primaryHost: { ...healthy.primaryHost, cluster: { ...healthy.primaryHost.cluster, postmaster } },
      standbyHost: { ...healthy.standbyHost, cluster: { ...healthy.standbyHost.cluster, postmaster } },
    };
    expect(verdict(samePostmaster, 'not-the-primary').status).toBe('fail');
    const busy = { ...healthy, standby: { ...healthy.standby, servesAsPrimary: 'cluster 15/main is a running primary with 1 replication connection(s)' } };
    expect(verdict(busy, 'not-the-primary').detail).toContain("somebody's primary");
  });

  it('fails a replication connection that reaches another cluster, and maps PostgreSQL errors to fixes', () => {
    const elsewhere = { ...healthy, connection: { ...healthy.connection, output: '7399999999999999999|1|0/3000148|' } as CloneFacts['connection'] };
    expect(verdict(elsewhere, 'replication-connection').fix).toContain('--primary-address');
    const hba = {
      ...healthy,
      connection: {
        ran: true,
        ok: false,
        output: 'connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption',
      },
    } as CloneFacts;
    expect(verdict(hba, 'replication-connection')).toMatchObject({ status: 'fail', fix: expect.stringContaining('host replication repl 10.77.0.12/32') });
  });

  it('reports an untried replication connection as skipped, not as passed', () => {
    const notYet = { ...healthy, connection: { ran: false, reason: 'no passfile yet' } } as CloneFacts;
    expect(verdict(notYet, 'replication-connection')).toMatchObject({ status: 'skipped', detail: 'no passfile yet' });
  });

  it('refuses different major versions and an older pg_basebackup', () => {
    expect(verdict({ ...healthy, standby: { ...healthy.standby, major: 16 } }, 'same-major-version').status).toBe('fail');
    expect(verdict({ ...healthy, standby: { ...healthy.standby, basebackupVersion: '14.9' } }, 'pg_basebackup-version').status).toBe('fail');
  });

  it('warns, without failing, when pg_rewind could not be used later', () => {
    expect(verdict({ ...healthy, primary: { ...primary, walLogHints: 'off' } }, 'pg_rewind-ready').status).toBe('warn');
    const noRewind = verdict({ ...healthy, pgRewind: { primary: true, standby: false } }, 'pg_rewind-ready');
    expect(noRewind).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^no pg_rewind of PostgreSQL 15 on the standby \(/) });
    expect(noRewind.fix).toContain('postgresql-15 on Debian/Ubuntu');
  });
});
