import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A README section written by a generator (`npm run docs`), between its own markers. */
export interface GeneratedSection {
  begin: string;
  end: string;
  /** The section's text, markers included. */
  text: () => string;
  /** Where it goes the first time: an index in the README (the end when negative). */
  insertAt: (readme: string) => number;
}

/** README with the section replaced between its markers, or inserted where it belongs the first time. */
export function withSection(readme: string, section: GeneratedSection): string {
  const begin = readme.indexOf(section.begin);
  const end = readme.indexOf(section.end);
  if (begin >= 0 && end > begin) return readme.slice(0, begin) + section.text() + readme.slice(end + section.end.length);
  const at = section.insertAt(readme);
  if (at < 0) return `${readme.trimEnd()}\n\n${section.text()}\n`;
  return `${readme.slice(0, at).trimEnd()}\n\n${section.text()}\n${readme.slice(at)}`;
}

/**
 * What `npm run docs` does with each generator's module it runs as a script (`moduleUrl` is
 * that module's import.meta.url): README, beside dist/, rewritten in place. Imported by a
 * test or another module, nothing happens.
 */
export function writeSectionWhenRun(moduleUrl: string, section: GeneratedSection, what: string): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  // This module runs from dist/src/.
  const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));
  writeFileSync(readmePath, withSection(readFileSync(readmePath, 'utf8'), section));
  console.log(`wrote ${what} of ${readmePath}`);
}
