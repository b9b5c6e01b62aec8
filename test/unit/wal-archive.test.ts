import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveCommand, archiveDirectoryOf, restoreCommand, restoreDirectoryOf } from '../../steps/lib/wal-archive.js';
import { strayTimelineFiles } from '../../src/doctor/stray-timelines.js';

/** What PostgreSQL does with a command setting: %p, %f (and %r) replaced, %% made one %, then /bin/sh -c. */
function runAsServer(command: string, cwd: string, values: Record<string, string>) {
  const expanded = command.replace(/%([a-z%])/g, (whole, key: string) => (key === '%' ? '%' : (values[key] ?? whole)));
  return spawnSync('/bin/sh', ['-c', expanded], { cwd, encoding: 'utf8' });
}

describe('the WAL archive commands, run by a real shell as PostgreSQL would', () => {
  const data = mkdtempSync(join(tmpdir(), 'pgw-wal-'));
  mkdirSync(join(data, 'pg_wal'));
  // A space, a quote and a percent sign: the shell and PostgreSQL's % both get exercised.
  const archive = join(data, "wal archive's 100%");
  mkdirSync(archive);
  const segment = '000000010000000000000003';
  const path = `pg_wal/${segment}`;
  writeFileSync(join(data, path), 'first content');
  const archiving = () => runAsServer(archiveCommand(archive), data, { p: path, f: segment });

  it('archives a new segment and leaves no temporary file', () => {
    expect(archiving().status).toBe(0);
    expect(readFileSync(join(archive, segment), 'utf8')).toBe('first content');
    expect(readdirSync(archive)).toEqual([segment]);
  });

  it('succeeds when the same segment with the same content is archived again (a crash before the acknowledgement)', () => {
    expect(archiving().status).toBe(0);
  });

  it('fails, saying why, when the archive holds that segment with other content, and keeps the archived one', () => {
    writeFileSync(join(data, path), 'other content');
    const result = archiving();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${archive}/${segment} is archived already, with other content`);
    expect(readFileSync(join(archive, segment), 'utf8')).toBe('first content');
  });

  it('restores an archived segment to where the standby asks for it', () => {
    expect(runAsServer(restoreCommand(archive), data, { f: segment, p: 'pg_wal/RECOVERYXLOG' }).status).toBe(0);
    expect(readFileSync(join(data, 'pg_wal/RECOVERYXLOG'), 'utf8')).toBe('first content');
  });
});

describe('the archive directory an archive_command names', () => {
  it("reads it back from this wizard's command and from the runbook's, whatever the quoting", () => {
    for (const dir of ['/var/lib/pg/archive', "/srv/wal's 100%"]) expect(archiveDirectoryOf(archiveCommand(dir))).toBe(dir);
    expect(archiveDirectoryOf('test ! -f /home1/dbadmin/psql/arch/testdb/%f && cp %p /home1/dbadmin/psql/arch/testdb/%f')).toBe('/home1/dbadmin/psql/arch/testdb');
    expect(archiveDirectoryOf('pgbackrest --stanza=main archive-push %p')).toBeUndefined();
  });
});

describe('the archive directory a restore_command reads', () => {
  it("reads it back from this wizard's command and from the runbook's; another command names none", () => {
    for (const dir of ['/var/lib/pg/archive', "/srv/wal's 100%"]) expect(restoreDirectoryOf(restoreCommand(dir))).toBe(dir);
    expect(restoreDirectoryOf('cp /mnt/server/archivedir/%f %p')).toBe('/mnt/server/archivedir');
    expect(restoreDirectoryOf('pgbackrest --stanza=main archive-get %f "%p"')).toBeUndefined();
  });
});

describe("the archive's files of timelines the primary's history does not contain", () => {
  const archive = [
    '000000010000000000000003', '000000010000000000000004.partial', '000000010000000000000002.00000028.backup',
    '00000002.history', '000000020000000000000004', '000000020000000000000005.partial',
    '00000003.history', '000000030000000000000004', '00000004.history', '000000040000000000000006', '.archive-wal.tmp', 'notes.txt',
  ];

  it('a standby promoted by mistake on a primary still on timeline 1: its timeline 2 goes, every other one and every non-WAL file stays', () => {
    expect(strayTimelineFiles(archive.slice(0, 6), 1, '')).toEqual(['00000002.history', '000000020000000000000004', '000000020000000000000005.partial']);
  });

  it("after a failover to timeline 3 (1 -> 3), a stray timeline 2 and 4 go; the primary's ancestors and its own stay", () => {
    const history = '1\t0/4000060\tno recovery target specified\n';
    expect(strayTimelineFiles(archive, 3, history)).toEqual(['00000002.history', '000000020000000000000004', '000000020000000000000005.partial', '00000004.history', '000000040000000000000006']);
  });

  it('timelines past 9 are hexadecimal in file names and decimal in the history file', () => {
    const history = '1\t0/3000000\tx\n\n# comment\n10\t0/5000000\tx\n';
    expect(strayTimelineFiles(['0000000A.history', '0000000B.history', '0000000C.history', '0000000B0000000000000006'], 11, history)).toEqual(['0000000C.history']);
  });
});
