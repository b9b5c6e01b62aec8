import { describe, expect, it } from 'vitest';
import { findPassfileEntry, passfileLine, upsertPassfileEntry } from '../../steps/lib/passfile.js';

describe('passfile', () => {
  const tricky = 'p:a\\ss:w0rd\\';

  it('escapes ":" and "\\" so libpq reads the password back unchanged', () => {
    const line = passfileLine('10.0.0.1', 5433, 'repl', tricky);
    expect(line).toBe('10.0.0.1:5433:replication:repl:p\\:a\\\\ss\\:w0rd\\\\');
    expect(findPassfileEntry(line + '\n', '10.0.0.1', 5433, 'repl')).toBe(tricky);
  });

  it('replaces only our line, keeping the others', () => {
    const before = '# mine\nother:5432:*:bob:secret\n10.0.0.1:5433:replication:repl:old\n';
    const after = upsertPassfileEntry(before, '10.0.0.1', 5433, 'repl', 'new');
    expect(after).toBe('# mine\nother:5432:*:bob:secret\n10.0.0.1:5433:replication:repl:new\n');
    expect(upsertPassfileEntry(after, '10.0.0.1', 5433, 'repl', 'new')).toBe(after);
  });
});
