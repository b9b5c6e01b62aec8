import { readFileSync, writeFileSync } from 'node:fs';

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

/** What `npm run docs` runs for one section: README rewritten in place. */
export function writeSection(readmePath: string, section: GeneratedSection, what: string): void {
  writeFileSync(readmePath, withSection(readFileSync(readmePath, 'utf8'), section));
  console.log(`wrote ${what} of ${readmePath}`);
}
