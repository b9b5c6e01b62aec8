import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { faults } from './matrix.js';

/**
 * README's fault table, written from test/faults/matrix.ts (the faults the integration tests
 * inject), so the table cannot claim a fault nobody tried. `npm run docs` rewrites it between
 * the markers; a unit test fails when it is stale.
 */

export const beginMarker = '<!-- fault-table:begin (generated from test/faults/matrix.ts by `npm run docs`; edit the matrix, not this) -->';
export const endMarker = '<!-- fault-table:end -->';

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function faultSection(): string {
  return [
    beginMarker,
    '### When something goes wrong mid-run',
    '',
    'Each row is injected on real lab servers while a headless `setup` runs',
    '(`test/integration/faults.test.ts`); the run ends as shown, in its own words (what happened,',
    'on which host, what each server holds now, what to do), and the same command run again then',
    'finishes: the standby streams and a row written on the primary arrives on it (where a fault the',
    'next run rides out follows one that stopped a run, that run is the one that finished). A host that',
    'answers nothing (network down, host stopped) is given up on after 40 s (keepalives every 4 s;',
    '`PGREPL_SSH_TIMEOUT` sets other seconds), and a clone copying from a primary given up on stops',
    'with it; a shorter silence is ridden out and noted. A query PostgreSQL leaves unanswered as long',
    '(a hung server, a lock never released) stops the run too, saying what the server\'s processes are doing.',
    'Every wait for a server (its start: 120 s; streaming: 60 s; the canary\'s replay: 30 s,',
    '`PGREPL_STREAMING_TIMEOUT` sets other seconds for the last two) stops the run when it expires,',
    'saying what it waited for and what each server showed instead.',
    'Ctrl-C, SIGTERM or SIGHUP ends the command running on a host at that moment, with every process',
    'it started, instead of waiting for it, and says which command it ended. A server start already',
    'under way is not ended (the server is started detached from the run): it comes up by itself, and',
    'the message says so.',
    'A second run on a cluster another run is working on (the same pair, or the same primary for',
    'another standby) is refused before it changes anything, naming the first (its pid, host, start).',
    '',
    '| fault | injected at | the run | what the operator reads (excerpts) | before running it again |',
    '|---|---|---|---|---|',
    ...faults.map((f) => `| ${cell(f.fault)} | ${cell(f.at)} | ${f.outcome} | ${f.sees.map((s) => `"${cell(s)}"`).join(' … ')} | ${cell(f.before)} |`),
    endMarker,
  ].join('\n');
}

/** README with the section replaced (or put before "## Performance" when it is not there yet). */
export function withFaultSection(readme: string): string {
  const begin = readme.indexOf(beginMarker);
  const end = readme.indexOf(endMarker);
  if (begin >= 0 && end > begin) return readme.slice(0, begin) + faultSection() + readme.slice(end + endMarker.length);
  const next = readme.indexOf('\n## Performance');
  if (next < 0) return `${readme.trimEnd()}\n\n${faultSection()}\n`;
  return `${readme.slice(0, next).trimEnd()}\n\n${faultSection()}\n${readme.slice(next)}`;
}

const readmePath = fileURLToPath(new URL('../../../README.md', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(readmePath, withFaultSection(readFileSync(readmePath, 'utf8')));
  console.log(`wrote the fault table of ${readmePath}`);
}
