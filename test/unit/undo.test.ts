import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../steps/contract.js';
import { rewriteConfigFile } from '../../steps/lib/config-files.js';
import { LocalHost } from './local-host.js';

/** The undo line as the operator pastes it into a shell. */
const runUndo = (change: ChangeRecord) => execFileSync('sh', ['-c', change.undo!], { encoding: 'utf8' });

describe('the undo commands shown after a change', () => {
  it('restore a config file whose path has spaces and quotes', async () => {
    const dir = mkdtempSync(join(tmpdir(), "pgrepl data dir's copy "));
    const path = join(dir, 'postgresql.auto.conf');
    writeFileSync(path, "wal_level = 'minimal'\n");
    const changes: ChangeRecord[] = [];
    await rewriteConfigFile(new LocalHost(), 'primary', path, "wal_level = 'replica'\n", 'root', (change) => changes.push(change));
    expect(readFileSync(path, 'utf8')).toBe("wal_level = 'replica'\n");
    runUndo(changes[0]);
    expect(readFileSync(path, 'utf8')).toBe("wal_level = 'minimal'\n");
  });

  it('remove a file the run created there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgrepl new file '));
    const path = join(dir, 'standby.signal conf');
    const changes: ChangeRecord[] = [];
    await rewriteConfigFile(new LocalHost(), 'standby', path, '', 'root', (change) => changes.push(change));
    runUndo(changes[0]);
    expect(existsSync(path)).toBe(false);
  });
});
