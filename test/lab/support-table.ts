import { withSection, writeSectionWhenRun, type GeneratedSection } from '../../src/readme-section.js';
import { hostKinds, type LabPair, labPairs, labRoots, type Layout } from './matrix.js';

/**
 * README's support table, written from test/lab/matrix.json (the pairs the lab brings up and the
 * integration tests run on), so the table cannot claim a server the tests never saw.
 * `npm run docs` rewrites it between the markers; a unit test fails when it is stale.
 */

export const beginMarker = '<!-- support-table:begin (generated from test/lab/matrix.json by `npm run docs`; edit the matrix, not this) -->';
export const endMarker = '<!-- support-table:end -->';

export const majors = [10, 11, 12, 13, 14, 15, 16, 17, 18] as const;

const hostsOf = (pair: LabPair) => [pair.primary, pair.standby].map((kind) => hostKinds[kind]);

/** The lab pairs with a host of that layout and major, e.g. "`hand-11` (Debian 12, 4 tablespaces)". */
function labCell(layout: Layout, major: number): string {
  const pairs = labPairs.filter((pair) => pair.expect !== 'refused' && hostsOf(pair).some((host) => host.layout === layout && host.major === major));
  if (pairs.length === 0) return 'unit tests only';
  const described = pairs.map((pair) => {
    const isThis = (kind: string) => hostKinds[kind].layout === layout && hostKinds[kind].major === major;
    const host = hostKinds[isThis(pair.primary) ? pair.primary : pair.standby];
    const notes = [labRoots[host.root].release];
    if (!isThis(pair.primary) || !isThis(pair.standby)) notes.push(`the ${isThis(pair.primary) ? 'primary' : 'standby'} of a cross-layout pair`);
    if (pair.tablespaces) notes.push(`${pair.tablespaces} tablespaces`);
    return `\`${pair.id}\` (${notes.join(', ')})`;
  });
  return `real servers: ${described.join('; ')}`;
}

export function supportSection(): string {
  const rows = majors.map((major) => `| ${major} | ${labCell('debian', major)} | ${labCell('hand', major)} | unit tests only | unit tests only |`);
  const refused = labPairs.filter((pair) => pair.expect === 'refused');
  return [
    beginMarker,
    '### Supported servers and where they are tested',
    '',
    'Both hosts run the same major, 10 to 18. "real servers" names the lab pair (`test/lab/lab.sh up',
    'PAIR`, see test/lab/README.md) the integration tests run on: two hosts with their own SSH',
    "server and PostgreSQL, Debian's packages from that Debian release or a hand-installed server",
    "laid out like the runbook's (an ordinary account, PGDATA under its home, port 3000, pg_ctl).",
    'systemd cannot run in the lab, so starting and stopping through systemctl, and the',
    'PGDG/RHEL paths (/usr/pgsql-N), are unit-tested only.',
    '',
    '| major | Debian/Ubuntu packages (pg_ctlcluster) | hand-installed (pg_ctl, any prefix) | PGDG/RHEL paths | systemd (systemctl) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...refused.map((pair) => `Refused before any change, on real servers: \`${pair.id}\` (${hostKinds[pair.primary].layout} ${hostKinds[pair.primary].major} primary, ${hostKinds[pair.standby].layout} ${hostKinds[pair.standby].major} standby).`),
    endMarker,
  ].join('\n');
}

/** README's support table (put before "## Commands" the first time). */
const supportReadmeSection: GeneratedSection = {
  begin: beginMarker,
  end: endMarker,
  text: supportSection,
  insertAt: (readme) => readme.indexOf('\n## Commands'),
};

export const withSupportSection = (readme: string) => withSection(readme, supportReadmeSection);

writeSectionWhenRun(import.meta.url, supportReadmeSection, 'the support table');
