import { withSection, writeSectionWhenRun, type GeneratedSection } from '../readme-section.js';
import { catalog, findingIds } from '../catalog/catalog.js';
import { cloneFailures } from '../catalog/clone-failures.js';

/**
 * README's doctor section, written from the catalog so ids, texts and fixes have one source.
 * `npm run docs` rewrites it between the markers; a unit test fails when it is stale.
 */

export const beginMarker = '<!-- doctor-findings:begin (generated from src/catalog/catalog.ts by `npm run docs`; edit the catalog, not this) -->';
export const endMarker = '<!-- doctor-findings:end -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A catalog pattern as the message an operator finds in the log: placeholders as "…" and N, GUC names unquoted (PG ≤ 16). */
export function readableMessage(pattern: RegExp): string {
  return pattern.source
    .replace(/"\[\^"\]\+"/g, '"…"')
    .replace(/\\S\+|\\w\+|\.\*/g, '…')
    .replace(/\\s\+/g, ' ')
    .replace(/\\d\+/g, 'N')
    .replace(/"\?/g, '')
    .replace(/\\([.()])/g, '$1');
}

const messages = (patterns: readonly RegExp[]) => (patterns.length === 0 ? 'none: live state only' : patterns.map((p) => `\`${cell(readableMessage(p))}\``).join('<br>'));

export function troubleshootingSection(): string {
  const rows = findingIds.map((id) => {
    const spec = catalog[id];
    return `| \`${id}\` | ${spec.severity} | ${spec.host} | ${cell(spec.title)}: ${cell(spec.cause)} | ${messages(spec.logPatterns)} | ${cell(spec.fix)} | ${spec.autoFix ? cell(spec.autoFix) : 'no: left to you'} |`;
  });
  return [
    beginMarker,
    '### What `pgrepl-wizard doctor` reports',
    '',
    'Doctor reads both servers (state, pg_stat_replication, pg_replication_slots, pg_stat_wal_receiver,',
    "pg_settings, pg_hba, the standby's recovery files and the log files, or journald), tries one",
    "replication connection from the standby with the standby's own primary_conninfo, and reports one",
    'finding per cause. A finding is an error only when the live state shows the cause now; log lines',
    "are quoted from the current failure window only (since the server's last start and the",
    "standby's last start of streaming). A cause the log shows but the live state no longer does is",
    'info: `resolved` once the standby streams again. The same cause seen in both logs is one finding',
    'with both lines. Exit 0 when no finding is an error, 1 when one is, 2 on usage errors.',
    '',
    '`--fix` turns the findings into one run of the setup steps (plus a few of its own: convert',
    "recovery.conf, write wal_level into a stopped primary's postgresql.auto.conf, start the primary,",
    "raise the standby's hot-standby settings (before the primary's restart raises them there), drop a slot, move a stray timeline's",
    "files out of the WAL archive before a rewound or re-cloned standby starts), shows the plan, asks (headless:",
    '`--yes`; a primary restart also needs `--restart-primary`; an inactive slot is dropped only',
    'when named with `--drop-slot NAME` or typed in), then diagnoses again. A standby whose history',
    'forked (promoted by mistake, timeline-diverged) is rewound with pg_rewind when it can be: see',
    '[Rewind instead of a re-clone](#rewind-instead-of-a-re-clone-pg_rewind). A standby that lost WAL',
    'or that was not cloned from the primary, or one pg_rewind refuses, is cloned again (the old data',
    'directory is kept, renamed).',
    '',
    '| id | severity | host | what it means | log messages it quotes | what to do | `--fix` |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '#### When the clone fails (setup, and `doctor --fix` when it clones again)',
    '',
    "pg_basebackup's own errors show only in its output, so the clone step explains them itself:",
    "pg_basebackup's lines, the cause, the primary's log lines written during the copy where they say",
    "why, and the fix. The standby's data directory is left as it was (the copy goes to a directory",
    'beside it and is removed).',
    '',
    "| pg_basebackup says | cause | what to do |",
    '|---|---|---|',
    ...cloneFailures.map((failure) => `| ${messages(failure.patterns)} | ${cell(failure.cause)} | ${cell(failure.fix({ dataDirectory: '<data directory>' }))} |`),
    endMarker,
  ].join('\n');
}

/** README's doctor section (appended to the Troubleshooting section the first time). */
const findingsSection: GeneratedSection = {
  begin: beginMarker,
  end: endMarker,
  text: troubleshootingSection,
  insertAt: (readme) => readme.indexOf('\n## ', readme.indexOf('## Troubleshooting') + 1),
};

export const withTroubleshootingSection = (readme: string) => withSection(readme, findingsSection);

writeSectionWhenRun(import.meta.url, findingsSection, 'the doctor findings section');
