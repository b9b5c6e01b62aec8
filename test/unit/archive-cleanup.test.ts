import { describe, expect, it } from 'vitest';
import { archiveCleanupOf } from '../../src/doctor/archive-cleanup.js';
import { cloneLabel } from '../../steps/lib/wal-archive.js';

const segment = (n: number, timeline = 1) => `0000000${timeline}00000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;
const mb16 = 16 * 1024 * 1024;
const files = (...names: string[]) => names.map((name) => ({ name, bytes: /^[0-9A-F]{24}(\.partial)?$/.test(name) ? mb16 : 300 }));

describe("doctor's archive cleanup", () => {
  it('removes the WAL files before the segment still needed, on any timeline (as pg_archivecleanup compares), and nothing else', () => {
    const archive = { files: files(segment(1), segment(2), segment(3), `${segment(3)}.partial`, segment(4, 2), segment(5, 2), '00000002.history', `.${segment(6, 2)}.tmp`), backups: [] };
    const cleanup = archiveCleanupOf(archive, segment(5, 2));
    expect(cleanup.keepFrom).toBe(segment(5, 2));
    expect(cleanup.heldBy).toBeUndefined();
    expect(cleanup.removable.map((file) => file.name)).toEqual([segment(1), segment(2), segment(3), `${segment(3)}.partial`, segment(4, 2)]);
    expect(cleanup.bytes).toBe(5 * mb16);
  });

  it("keeps the WAL of an operator's oldest base backup that starts earlier, never that of this wizard's clones", () => {
    const clone = `${segment(2)}.00000028.backup`;
    const older = `${segment(3)}.00000060.backup`;
    const newer = `${segment(4)}.00000028.backup`;
    const archive = {
      files: files(segment(1), segment(2), clone, segment(3), older, segment(4), newer, segment(5), segment(6)),
      backups: [
        { name: newer, label: 'nightly' },
        { name: clone, label: cloneLabel },
        { name: older, label: 'pg_basebackup base backup' },
      ],
    };
    const held = archiveCleanupOf(archive, segment(6));
    expect(held.keepFrom).toBe(older);
    expect(held.heldBy).toEqual({ name: older, label: 'pg_basebackup base backup' });
    expect(held.removable.map((file) => file.name)).toEqual([segment(1), segment(2)]);
    // A backup that starts after what the standbys need holds nothing back.
    expect(archiveCleanupOf({ ...archive, backups: [{ name: newer, label: 'nightly' }] }, segment(3)).keepFrom).toBe(segment(3));
  });
});
