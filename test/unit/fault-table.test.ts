import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faults } from '../faults/matrix.js';
import { withFaultSection } from '../faults/readme-table.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe("README's fault table", () => {
  it('is what test/faults/matrix.ts generates now (run `npm run docs` after changing the matrix)', () => {
    expect(withFaultSection(readme)).toBe(readme);
  });

  it('has a row per fault, with its outcome', () => {
    for (const fault of faults) {
      const row = readme.split('\n').find((line) => line.startsWith(`| ${fault.fault} |`));
      expect(row, fault.id).toContain(`| ${fault.outcome} |`);
    }
  });
});
