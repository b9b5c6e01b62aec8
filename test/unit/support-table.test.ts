import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostKinds, labPairs } from '../lab/matrix.js';
import { majors, withSupportSection } from '../lab/support-table.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe("README's support table", () => {
  it('is what test/lab/matrix.json generates now (run `npm run docs` after changing the matrix)', () => {
    expect(withSupportSection(readme)).toBe(readme);
  });

  it('has a row per major 10–18, each run on real servers in some layout', () => {
    for (const major of majors) {
      const row = readme.split('\n').find((line) => line.startsWith(`| ${major} |`));
      expect(row, String(major)).toContain('real servers: `');
    }
  });

  it('names only pairs of host kinds the matrix defines, and says systemd is unit-tested only', () => {
    for (const pair of labPairs) {
      expect(hostKinds[pair.primary], pair.id).toBeDefined();
      expect(hostKinds[pair.standby], pair.id).toBeDefined();
    }
    expect(readme).toMatch(/systemd cannot run in the lab/);
  });
});
