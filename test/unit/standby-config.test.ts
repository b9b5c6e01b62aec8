import { describe, expect, it } from 'vitest';
import { sampleSettings } from './fixtures.js';
import { afterAlterSystem, autoConfValue } from '../../src/facts/auto-conf.js';
import { conninfoValue } from '../../src/facts/conninfo.js';
import { usesStandbySignal } from '../../src/facts/replication.js';
import { archiveCleanupCommand, restoreCommand } from '../../steps/lib/wal-archive.js';
import { primaryConninfo, recoveryConfText, recoverySettings, settingsToRaise, standbyListenAddresses } from '../../steps/lib/standby-config.js';

const settings = sampleSettings;

/** libpq's conninfo_parse for one value, to prove the quoting round-trips. */
function libpqValue(quoted: string): string {
  if (!quoted.startsWith("'")) return quoted;
  return quoted.slice(1, -1).replace(/\\(.)/g, '$1');
}

describe('conninfo quoting', () => {
  it('leaves plain values bare', () => {
    expect(conninfoValue('10.77.0.11')).toBe('10.77.0.11');
    expect(conninfoValue('/var/lib/postgresql/.pgpass')).toBe('/var/lib/postgresql/.pgpass');
  });

  it('quotes values with spaces, quotes or backslashes so libpq reads them back unchanged', () => {
    for (const value of ['/srv/pg home/.pgpass', "o'brien", 'C:\\pg\\pass', '']) {
      const quoted = conninfoValue(value);
      expect(quoted.startsWith("'")).toBe(true);
      expect(libpqValue(quoted)).toBe(value);
    }
    expect(conninfoValue("it's a\\b")).toBe("'it\\'s a\\\\b'");
  });

  it('builds primary_conninfo with the passfile and the slot as application_name, never the password', () => {
    const text = primaryConninfo({ ...settings, passfile: '/home/pg data/.pgpass' }, 5433);
    expect(text).toBe("host=10.77.0.11 port=5433 user=repl passfile='/home/pg data/.pgpass' application_name=pgrepl_10_77_0_12");
    expect(text).not.toContain('never shown');
  });

  it('survives the postgresql.auto.conf quoting layer on top of the conninfo one', () => {
    const text = primaryConninfo({ ...settings, passfile: "/srv/o'brien\\.pgpass" }, 5433);
    const file = afterAlterSystem(null, [{ name: 'primary_conninfo', value: text }], 15);
    expect(file).toContain("primary_conninfo = 'host=10.77.0.11 port=5433 user=repl passfile=''/srv/o\\\\''brien\\\\\\\\.pgpass'' application_name=pgrepl_10_77_0_12'");
    expect(autoConfValue(file, 'primary_conninfo')).toBe(text);
  });
});

describe('recovery configuration by major version', () => {
  const conninfo = primaryConninfo(settings, 5433);

  it('uses standby.signal with settings in postgresql.auto.conf from PostgreSQL 12 on', () => {
    expect(usesStandbySignal(12)).toBe(true);
    expect(usesStandbySignal(15)).toBe(true);
    expect(recoverySettings(15, conninfo, settings.slotName)).toEqual({ primary_conninfo: conninfo, primary_slot_name: 'pgrepl_10_77_0_12' });
  });

  it('writes recovery.conf with standby_mode for PostgreSQL 11 and older', () => {
    expect(usesStandbySignal(11)).toBe(false);
    expect(recoveryConfText(recoverySettings(11, conninfo, settings.slotName))).toBe(
      [
        '# Written by pgrepl-wizard: this server is a streaming standby.',
        "standby_mode = 'on'",
        "primary_conninfo = 'host=10.77.0.11 port=5433 user=repl passfile=/var/lib/postgresql/.pgpass application_name=pgrepl_10_77_0_12'",
        "primary_slot_name = 'pgrepl_10_77_0_12'",
        "recovery_target_timeline = 'latest'",
        '',
      ].join('\n'),
    );
  });

  it("rewrites an existing recovery.conf keeping the operator's lines: only the settings it writes change, in place", () => {
    const before = [
      '# the standby of appdb',
      "standby_mode = 'on'",
      "restore_command = 'cp /home1/dbadmin/psql/arch/testdb/%f %p'",
      "primary_slot_name = 'old_slot'",
      "recovery_min_apply_delay = '0'",
      "primary_slot_name = 'older_slot'",
      '',
    ].join('\n');
    expect(recoveryConfText(recoverySettings(11, conninfo, settings.slotName), before)).toBe(
      [
        '# the standby of appdb',
        "standby_mode = 'on'",
        "restore_command = 'cp /home1/dbadmin/psql/arch/testdb/%f %p'",
        "primary_slot_name = 'pgrepl_10_77_0_12'",
        "recovery_min_apply_delay = '0'",
        `primary_conninfo = '${conninfo}'`,
        "recovery_target_timeline = 'latest'",
        '',
      ].join('\n'),
    );
  });

  it('quotes an archive directory for the shell inside the setting\'s string, in recovery.conf and postgresql.auto.conf alike', () => {
    const archive = { restore_command: restoreCommand("/mnt/wal's"), archive_cleanup_command: archiveCleanupCommand('/usr/lib/postgresql/11/bin/pg_archivecleanup', "/mnt/wal's") };
    const text = recoveryConfText(recoverySettings(11, conninfo, settings.slotName, archive));
    expect(text).toContain("restore_command = 'cp ''/mnt/wal''\\\\''''s''/%f %p'\n");
    expect(text).toContain("archive_cleanup_command = '/usr/lib/postgresql/11/bin/pg_archivecleanup ''/mnt/wal''\\\\''''s'' %r'\n");
    expect(autoConfValue(text, 'restore_command')).toBe("cp '/mnt/wal'\\''s'/%f %p");
    const auto = afterAlterSystem(null, Object.entries(recoverySettings(15, conninfo, settings.slotName, archive)).map(([name, value]) => ({ name, value })), 15);
    expect(autoConfValue(auto, 'archive_cleanup_command')).toBe("/usr/lib/postgresql/11/bin/pg_archivecleanup '/mnt/wal'\\''s' %r");
  });

  it('replaces a cloned primary_conninfo in postgresql.auto.conf and keeps the other lines', () => {
    const cloned = "# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\nlisten_addresses = 'localhost,10.77.0.11'\nprimary_conninfo = 'host=old'\n";
    const after = afterAlterSystem(cloned, Object.entries(recoverySettings(15, conninfo, settings.slotName)).map(([name, value]) => ({ name, value })), 15);
    expect(autoConfValue(after, 'primary_conninfo')).toBe(conninfo);
    expect(autoConfValue(after, 'primary_slot_name')).toBe(settings.slotName);
    expect(autoConfValue(after, 'listen_addresses')).toBe('localhost,10.77.0.11');
    expect(after.match(/primary_conninfo/g)).toHaveLength(1);
  });
});

describe('hot standby minimums', () => {
  const primary = { max_connections: '200', max_worker_processes: '8', max_prepared_transactions: '0', max_locks_per_transaction: '64', max_wal_senders: '10' };

  it('raises only the settings below the primary, max_wal_senders from PostgreSQL 12 on', () => {
    const standby = { max_connections: '100', max_worker_processes: '16', max_prepared_transactions: '0', max_locks_per_transaction: '64', max_wal_senders: '5' };
    expect(settingsToRaise(15, primary, standby)).toEqual({ max_connections: '200', max_wal_senders: '10' });
    expect(settingsToRaise(11, primary, standby)).toEqual({ max_connections: '200' });
  });

  it('leaves a standby alone that is already as high', () => {
    expect(settingsToRaise(15, primary, primary)).toEqual({});
  });
});

describe("the primary's listen_addresses copied by the clone", () => {
  it("puts the standby's own address where the primary's was", () => {
    expect(standbyListenAddresses('localhost,10.77.0.11', '10.77.0.11', '10.77.0.12')).toBe('localhost,10.77.0.12');
  });

  it('keeps values that do not name the primary', () => {
    expect(standbyListenAddresses('*', '10.77.0.11', '10.77.0.12')).toBeUndefined();
    expect(standbyListenAddresses(undefined, '10.77.0.11', '10.77.0.12')).toBeUndefined();
  });
});
