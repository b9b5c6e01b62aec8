import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setAsideStrayTimelinesStep } from '../../src/doctor/stray-timelines.js';
import { restoreCommand } from '../../steps/lib/wal-archive.js';
import { timestampSuffix } from '../../steps/lib/config-files.js';
import type { ChangeRecord, Node, StepContext } from '../../steps/contract.js';
import { LocalHost } from './local-host.js';

describe('moving the stray timelines out of the archive (a real shell and mv on this machine)', () => {
  afterEach(() => vi.useRealTimers());

  it('stopped part-way, it records what it moved and how to put it back, and names the file it could not move', async () => {
    const archive = join(mkdtempSync(join(tmpdir(), 'pgw-stray-')), 'archive');
    mkdirSync(archive);
    const stray = ['00000002.history', '000000020000000000000004', '000000020000000000000005'];
    for (const name of ['000000010000000000000003', ...stray]) writeFileSync(join(archive, name), name);
    // The folder the step makes for this second already holds one of the names: mv -n does not replace it.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-29T17:00:00Z'));
    const folder = `${archive}-stray-timelines-${timestampSuffix()}`;
    mkdirSync(folder);
    writeFileSync(join(folder, stray[1]), 'already there');

    const standbyHost = new LocalHost();
    const primary = {
      host: { role: 'primary', label: 'admin@primary', sql: async () => [{ name: '000000010000000000000006', history: null }] },
      cluster: { id: '15/main', major: 15 },
      address: { socketDir: '/run/postgresql', port: 5432 },
    } as unknown as Node;
    const changes: ChangeRecord[] = [];
    const ctx = {
      primary,
      standby: { host: standbyHost, cluster: { id: '15/main', major: 15 } } as unknown as Node,
      settings: { keptArchive: { restore_command: restoreCommand(archive) } },
      confirm: async () => true,
      recordChange: (change: ChangeRecord) => changes.push(change),
    } as unknown as StepContext;

    await expect(setAsideStrayTimelinesStep.apply(ctx)).rejects.toThrow(
      `moving ${stray[1]} out of the WAL archive ${archive} into ${folder} failed (1 of 3 moved before it)`,
    );
    expect(readdirSync(folder).sort()).toEqual([stray[0], stray[1]]);
    expect(existsSync(join(archive, stray[1]))).toBe(true);
    expect(changes).toEqual([expect.objectContaining({ what: `moved 1 file(s) of timeline 2 (${stray[0]}) out of the WAL archive ${archive} into ${folder}`, backup: folder, undo: expect.stringContaining(`mv -n -t ${archive}`) })]);
  });
});
