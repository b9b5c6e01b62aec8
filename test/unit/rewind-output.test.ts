import { describe, expect, it } from 'vitest';
import { hintsMissing, missingWalSegment, parseRewindOutput, rewindArgs, targetRunning, targetWal, walFromPrimary } from '../../steps/lib/rewind.js';
import type { Node } from '../../steps/contract.js';

/** pg_rewind's stderr as PostgreSQL 15's pg_rewind wrote it on the lab (progress lines end in \r). */
const rewound = [
  'pg_rewind: connected to server',
  'pg_rewind: servers diverged at WAL location 0/300D4D8 on timeline 1',
  'pg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1',
  'pg_rewind: reading source file list',
  'pg_rewind: reading target file list',
  'pg_rewind: reading WAL in target',
  'pg_rewind: need to copy 52 MB (total source directory size is 77 MB)',
  '   24/54194 kB (0%) copied\r 4193/54194 kB (7%) copied\r54194/54194 kB (100%) copied\r',
  'pg_rewind: creating backup label and updating control file',
  'pg_rewind: syncing target data directory',
  'pg_rewind: Done!',
].join('\n');

const node = (major: number) => ({ cluster: { major, binDir: `/usr/lib/postgresql/${major}/bin`, dataDirectory: '/var/lib/postgresql/main' } }) as unknown as Node;

describe("pg_rewind's output", () => {
  it('a rewind: what it had to copy and the kB it copied, no progress lines among the messages', () => {
    const run = parseRewindOutput(0, rewound);
    expect(run).toMatchObject({ ok: true, error: undefined, toCopy: 'need to copy 52 MB (total source directory size is 77 MB)', copiedKb: 54194 });
    expect(run.lines).toHaveLength(10);
    expect(run.lines.some((line) => line.includes('kB'))).toBe(false);
  });

  it("a refusal: pg_rewind's own error, with 15's 'error:', 12–14's 'fatal:' and 10–11's bare line", () => {
    expect(parseRewindOutput(1, `pg_rewind: connected to server\npg_rewind: error: ${hintsMissing}\n`).error).toBe(hintsMissing);
    expect(parseRewindOutput(1, `pg_rewind: fatal: ${targetRunning}\n`).error).toBe(targetRunning);
    expect(parseRewindOutput(1, "connected to server\ncould not find common ancestor of the source and target cluster's timelines\nFailure, exiting\n").error).toBe("could not find common ancestor of the source and target cluster's timelines");
    expect(
      parseRewindOutput(1, 'pg_rewind: error: could not open file "/d/pg_wal/000000010000000000000002": No such file or directory\npg_rewind: error: could not find previous WAL record at 0/2000100\n').error,
    ).toBe('could not open file "/d/pg_wal/000000010000000000000002": No such file or directory; could not find previous WAL record at 0/2000100');
  });

  it("runs the target's own major's pg_rewind; --no-ensure-shutdown from 13, where pg_rewind would start the server itself", () => {
    expect(rewindArgs(node(12), '/usr/lib/postgresql/12/bin/pg_rewind', true, walFromPrimary)).toEqual(['/usr/lib/postgresql/12/bin/pg_rewind', '--target-pgdata=/var/lib/postgresql/main', '--progress', '--dry-run']);
    expect(rewindArgs(node(15), '/usr/lib/postgresql/15/bin/pg_rewind', false, walFromPrimary)).toEqual(['/usr/lib/postgresql/15/bin/pg_rewind', '--target-pgdata=/var/lib/postgresql/main', '--progress', '--no-ensure-shutdown']);
  });

  it('names the WAL segment pg_rewind missed in the standby\'s pg_wal (fetched from the primary), and no other failure', () => {
    const missing = parseRewindOutput(1, 'pg_rewind: error: could not open file "/var/lib/postgresql/15/main/pg_wal/000000010000000000000002": No such file or directory\npg_rewind: error: could not find previous WAL record at 0/2000100\n');
    expect(missingWalSegment(missing)).toBe('000000010000000000000002');
    // With --restore-target-wal: neither pg_wal nor the archive had it.
    const notArchived = parseRewindOutput(1, 'pg_rewind: error: could not restore file "000000010000000000000003" from archive\npg_rewind: error: could not find previous WAL record at 0/3000100\n');
    expect(missingWalSegment(notArchived)).toBe('000000010000000000000003');
    expect(missingWalSegment(parseRewindOutput(1, `pg_rewind: error: ${hintsMissing}\n`))).toBeUndefined();
    expect(missingWalSegment(parseRewindOutput(0, rewound))).toBeUndefined();
  });
});

describe('where pg_rewind gets the WAL the standby no longer has', () => {
  const standby = (major: number, configDir: string | undefined) => ({ cluster: { major, binDir: `/usr/lib/postgresql/${major}/bin`, dataDirectory: '/var/lib/postgresql/main', configDir } }) as unknown as Node;
  const restore = 'cp /mnt/archive/%f %p';

  it('from the archive with --restore-target-wal, naming the configuration outside the data directory from 15', () => {
    expect(targetWal(standby(15, '/etc/postgresql/15/main'), restore).args).toEqual(['--restore-target-wal', '--config-file=/etc/postgresql/15/main/postgresql.conf']);
    expect(targetWal(standby(13, undefined), restore).args).toEqual(['--restore-target-wal']);
  });

  it("from the primary's pg_wal on 13–14 with the configuration outside the data directory, saying why; and without restore_command", () => {
    const debian14 = targetWal(standby(14, '/etc/postgresql/14/main'), restore);
    expect(debian14.args).toEqual([]);
    expect(debian14.says).toContain("copied from the primary's pg_wal (up to the fork both wrote the same WAL), not restored from the archive: pg_rewind 14 reads restore_command only from a postgresql.conf inside the data directory (--config-file comes with 15)");
    expect(targetWal(standby(15, '/etc/postgresql/15/main'), '')).toEqual(walFromPrimary);
    expect(targetWal(standby(15, '/etc/postgresql/15/main'), undefined)).toEqual(walFromPrimary);
  });
});
