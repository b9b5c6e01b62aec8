import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileScript } from '../../src/remote/commands.js';

/** The remote write, run through a real sh here: $1 path, $2 mode of a new file, $3 secret owner. */
const write = (path: string, content: string, mode = '600', secretOwner = '') =>
  execFileSync('sh', ['-c', writeFileScript, 'sh', path, mode, secretOwner], { input: content });

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const directory = () => mkdtempSync(join(tmpdir(), 'pgrepl write '));

describe('the remote file write', () => {
  it('keeps the mode of an existing ordinary file and gives a new one the mode asked for', () => {
    const dir = directory();
    const existing = join(dir, "it's postgresql.conf");
    writeFileSync(existing, 'old\n', { mode: 0o644 });
    write(existing, 'new\n');
    expect([readFileSync(existing, 'utf8'), mode(existing)]).toEqual(['new\n', '644']);
    const created = join(dir, 'pg_hba.conf');
    write(created, 'host all all 127.0.0.1/32 scram-sha-256\n', '640');
    expect(mode(created)).toBe('640');
    expect(readdirSync(dir).sort()).toEqual(["it's postgresql.conf", 'pg_hba.conf']);
  });

  it.runIf(process.getuid?.() === 0)('makes a secret 0600 and its owner\'s alone, over a world-readable file', () => {
    const dir = directory();
    const passfile = join(dir, '.pgpass');
    writeFileSync(passfile, 'db1:5432:replication:repl:old\n', { mode: 0o644 });
    write(passfile, 'db1:5432:replication:repl:new\n', '600', 'nobody');
    expect(mode(passfile)).toBe('600');
    expect(execFileSync('stat', ['-c', '%U', passfile], { encoding: 'utf8' }).trim()).toBe('nobody');
    expect(readdirSync(dir)).toEqual(['.pgpass']);
  });
});
