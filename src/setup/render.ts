import type { PlannedAction, Progress } from '../../steps/contract.js';
import { commandLine } from '../remote/quote.js';
import { formatBytes } from '../report.js';
import type { SetupOutcome } from './setup.js';
import type { StepResult } from './runner.js';

const statusMark: Record<StepResult['status'], string> = {
  done: '[done]',
  'already-done': '[already done]',
  planned: '[to do]',
  failed: '[FAILED]',
  skipped: '[skipped]',
};

export const statusLabel = (status: StepResult['status']) => statusMark[status];

/** How the runbook flags an action that restarts the primary, replaces the standby's data or moves files out of the archive. */
const marks: Record<NonNullable<PlannedAction['destructive']>, string> = { 'restart-primary': 'RESTARTS THE PRIMARY', 'replace-standby-data': 'REPLACES STANDBY DATA', 'move-archive-files': 'MOVES FILES OUT OF THE WAL ARCHIVE' };
export const destructiveMark = (kind: NonNullable<PlannedAction['destructive']>) => `!! ${marks[kind]}`;

export function actionLines(action: PlannedAction): string[] {
  const mark = action.destructive ? `  ${destructiveMark(action.destructive)}` : '';
  const lines = [`  - on ${action.side}: ${action.summary}${mark}`];
  if (action.command) lines.push(`      $ ${commandLine(action.command)}`);
  if (action.sql) lines.push(...action.sql.trim().split('\n').map((l) => `      sql> ${l}`));
  if (action.diff) lines.push(...action.diff.trimEnd().split('\n').map((l) => `      ${l}`));
  return lines;
}

export function stepLines(step: StepResult): string[] {
  const lines = [`${statusMark[step.status]} ${step.title}: ${step.detail}`];
  if (step.error?.where) lines.push(`    where: ${step.error.where}`);
  if (step.error?.fix) lines.push(`    fix:   ${step.error.fix}`);
  if (step.status === 'planned') {
    lines.push(...(step.notes ?? []).map((note) => `    note: ${note}`));
    lines.push(...(step.actions ?? []).flatMap(actionLines));
  }
  return lines;
}

/** The choices the whole plan follows, in one line. */
export const settingsLine = (s: SetupOutcome['settings']) =>
  `role ${s.roleName}, slot ${s.slotName}, standby connects from ${s.standbyAddress} to ${s.primaryAddress}, checkpoint ${s.checkpoint}`;

/** `setup --plan`: a runbook an operator can review before anything changes. */
export function planText(outcome: SetupOutcome): string {
  return [
    '# pgrepl-wizard setup plan (nothing has been changed)',
    `# ${settingsLine(outcome.settings)}`,
    '',
    ...outcome.steps.flatMap((step) => [...stepLines(step), '']),
  ].join('\n');
}

export function summaryText(outcome: SetupOutcome): string {
  return [...outcome.steps.flatMap(stepLines), closingText(outcome)].join('\n');
}

/** What changed where, the backups and how to undo, and the verdict. */
export function closingText(outcome: SetupOutcome): string {
  const lines: string[] = [];
  if (outcome.changes.length > 0) {
    lines.push('', 'Changed:');
    for (const change of outcome.changes) {
      lines.push(`  - ${change.side}: ${change.what}${change.backup ? ` (backup: ${change.backup})` : ''}${change.undo ? `\n      undo: ${change.undo}` : ''}`);
    }
  }
  // The role step stores the password it sets; before that step succeeds it is stored nowhere.
  const passwordStored = outcome.steps.some((step) => step.id === 'replication-role' && (step.status === 'done' || step.status === 'already-done'));
  if (outcome.settings.passwordGenerated && passwordStored) {
    lines.push('', `The replication password was generated; it is stored only in ${outcome.settings.passfile} on the standby (mode 0600, readable only by the OS user that runs the standby's PostgreSQL).`);
  }
  for (const note of outcome.notes ?? []) lines.push('', `Note: ${note}`);
  lines.push('', outcome.ok ? 'Result: the standby is set up.' : 'Result: setup stopped; fix the failure above and run the same command again (finished steps are skipped).');
  return lines.join('\n');
}

export function progressLine(progress: Progress): string {
  const width = 30;
  const filled = Math.round((progress.percent / 100) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const rate = progress.rateKbps !== undefined ? `, ${formatBytes(progress.rateKbps * 1024)}/s` : '';
  const eta = progress.etaSeconds !== undefined ? `, ETA ${Math.ceil(progress.etaSeconds)}s` : '';
  return `[${bar}] ${progress.percent}% ${formatBytes(progress.doneKb * 1024)} of ${formatBytes(progress.totalKb * 1024)}${rate}${eta}`;
}
