import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers as README's layout states them: cli/ui → commands → jobs → the core below.
 * A view holds no workflow and the core no UI: no ink/react outside src/ui, and neither the
 * jobs nor the core import a command or a view.
 */

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

const importsOf = (file: string) => [...readFileSync(join(root, file), 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((match) => match[1]);

/** The folder (relative to the root) an import of `file` resolves into, or the package name. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return relative(root, join(root, file, '..', specifier));
}

const all = [...sources('src'), ...sources('steps')];

describe('layers', () => {
  it('ink and react are imported only by src/ui', () => {
    const outside = all.filter((file) => !file.startsWith('src/ui/')).filter((file) => importsOf(file).some((spec) => /^(ink|react)(-|\/|$)|^@inkjs\//.test(spec)));
    expect(outside).toEqual([]);
  });

  const jobsAndAbove = ['src/ui', 'src/commands', 'src/jobs', 'src/cli', 'src/setup', 'src/doctor', 'src/status', 'src/session', 'src/report'];
  it('the views and the commands start a run through the jobs (openSession), never connecting or discovering hosts themselves', () => {
    const direct = all
      .filter((file) => file.startsWith('src/ui/') || file.startsWith('src/commands/'))
      .filter((file) => /\b(connectPair|discoverPair)\b/.test(readFileSync(join(root, file), 'utf8')));
    expect(direct).toEqual([]);
  });

  it.each([
    ['src/jobs', ['src/ui', 'src/commands', 'src/cli']],
    ['src/commands', ['src/ui']],
    ['src/setup', ['src/ui', 'src/commands', 'src/jobs', 'src/cli']],
    ['src/doctor', ['src/ui', 'src/commands', 'src/jobs', 'src/cli']],
    ['src/status', ['src/ui', 'src/commands', 'src/jobs', 'src/cli']],
    ['steps', jobsAndAbove],
    // The read-only facts and the message catalog serve setup, doctor and status alike: nothing above them.
    ['src/facts', ['steps', ...jobsAndAbove]],
    ['src/catalog', ['steps', ...jobsAndAbove]],
  ])('%s imports nothing from %j', (layer, above) => {
    const upward = all
      .filter((file) => file.startsWith(`${layer}/`))
      .flatMap((file) => importsOf(file).map((spec) => [file, target(file, spec)]))
      .filter(([, to]) => above.some((folder) => to === folder || to.startsWith(`${folder}/`) || to === `${folder}.js`));
    expect(upward).toEqual([]);
  });
});
