import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandLine, shellQuote } from '../../src/remote/quote.js';

const hostile = [
  "it's",
  'a; rm -rf /tmp/x',
  '$(touch /tmp/pwned)',
  '`id`',
  'two\nlines',
  'spaces  and\ttabs',
  '"double" \\back\\slash',
  '*',
  '~root',
  '',
  '-n',
  "'; echo injected; '",
];

describe('shellQuote', () => {
  it('delivers every hostile value to the program as one literal argument', () => {
    // The same path ssh takes: one string, parsed by a POSIX shell.
    const line = commandLine(['printf', '%s\\0', ...hostile]);
    const output = execFileSync('sh', ['-c', line], { encoding: 'utf8' });
    expect(output.split('\0').slice(0, -1)).toEqual(hostile);
  });

  it('leaves plain words readable', () => {
    expect(commandLine(['pg_ctlcluster', '15', 'main', 'start'])).toBe('pg_ctlcluster 15 main start');
    expect(shellQuote('/var/lib/postgresql/15/main')).toBe('/var/lib/postgresql/15/main');
  });

  it('refuses a NUL byte instead of truncating the argument', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});
