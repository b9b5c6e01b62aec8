import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog, findingIds } from '../../src/catalog/catalog.js';
import { readableMessage, withTroubleshootingSection } from '../../src/doctor/readme-section.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe("README's doctor section", () => {
  it('is what the catalog generates now (run `npm run docs` after changing the catalog)', () => {
    expect(withTroubleshootingSection(readme)).toBe(readme);
  });

  it('lists every finding id with its severity, title and fix', () => {
    for (const id of findingIds) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${id}\` |`));
      expect(row, id).toContain(`| ${catalog[id].severity} |`);
      expect(row, id).toContain(catalog[id].title);
      expect(row, id).toContain(catalog[id].fix.replace(/\|/g, '\\|'));
    }
  });

  it('shows log patterns as the messages PostgreSQL writes', () => {
    expect(readableMessage(catalog['wal-senders-exhausted'].logPatterns[0])).toBe('number of requested standby connections exceeds max_wal_senders (currently N)');
    expect(readableMessage(catalog['hba-missing'].logPatterns[0])).toBe('no pg_hba.conf entry for replication connection from host "…", user "…"');
  });
});
