import { describe, expect, it } from 'vitest';
import { typeInto } from '../../src/ui/text-field.js';

describe('a text field takes keys that arrive together', () => {
  const repl = { value: 'repl', cursor: 4 };

  it('twelve Backspaces in one read erase the whole default, then the typed name and its Enter submit it', () => {
    expect(typeInto(repl, '\x7f'.repeat(12) + 'opsrepl\r')).toEqual({ value: 'opsrepl', cursor: 7, submitted: true });
  });

  it('Ctrl-U erases up to the cursor, Ctrl-W the word before it, Ctrl-A / Ctrl-E move to the ends', () => {
    expect(typeInto(repl, '\x15')).toEqual({ value: '', cursor: 0, submitted: false });
    expect(typeInto({ value: '/var/lib pg', cursor: 11 }, '\x17')).toEqual({ value: '/var/lib ', cursor: 9, submitted: false });
    expect(typeInto(repl, '\x01x\x05y')).toEqual({ value: 'xreply', cursor: 6, submitted: false });
  });

  it('text typed after Enter in the same read is not taken into the answer', () => {
    expect(typeInto(repl, '\rjunk')).toEqual({ ...repl, submitted: true });
  });
});
