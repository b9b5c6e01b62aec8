import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands, helpText, optionSpecs } from '../../src/options.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('documentation', () => {
  it.each(Object.keys(optionSpecs))('README and --help document --%s', (flag) => {
    expect(readme).toContain(`--${flag}`);
    expect(helpText()).toContain(`--${flag}`);
  });

  it.each(commands.filter((c) => c !== 'wizard'))('README documents the %s command', (command) => {
    expect(readme).toContain(`pgrepl-wizard ${command}`);
  });

  it('gives the two commands', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
  });
});
