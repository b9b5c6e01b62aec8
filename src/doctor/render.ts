import { stepLines } from '../setup/render.js';
import type { StepResult } from '../setup/runner.js';
import type { Severity } from '../catalog/catalog.js';
import type { PlanReview } from '../io.js';
import { formatBytes, formatSeconds } from '../report.js';
import type { Diagnosis, Finding, ReplicationState, ServerState } from './diagnose.js';
import type { Relationship } from './facts.js';
import type { RepairOutcome, RepairPlan } from './repair.js';

/** Doctor's report as text, for the terminal and the Ink screen alike. */

export const severityHeadings: Record<Severity, string> = { error: 'Errors', warning: 'Warnings', info: 'Info' };
export const severityMarks: Record<Severity, string> = { error: '✗', warning: '!', info: 'i' };

export interface SeverityGroup {
  severity: Severity;
  findings: Finding[];
}

/** Findings grouped by severity, errors first; empty groups left out. */
export function severityGroups(findings: readonly Finding[]): SeverityGroup[] {
  return (['error', 'warning', 'info'] as const)
    .map((severity) => ({ severity, findings: findings.filter((f) => f.severity === severity) }))
    .filter((group) => group.findings.length > 0);
}

export const findingHeadline = (f: Finding) => `${severityMarks[f.severity]} ${f.id} (${f.host}): ${f.title}`;

/** The evidence and the fix of one finding, indented under its headline. */
export function findingBody(f: Finding): string[] {
  const lines: string[] = [];
  if (f.detail) lines.push(`    ${f.detail}`);
  for (const evidence of f.evidence) {
    lines.push(`    ${evidence.host} ${evidence.source}:`, ...evidence.lines.map((line) => `      ${line}`));
  }
  lines.push(`    fix: ${f.fix.text}`);
  if (f.fix.fixable) lines.push(`    --fix: ${f.fix.action}`);
  return lines;
}

/** primary_conninfo as it can be shown: a password in it is masked. */
export const shownConninfo = (conninfo: string) => conninfo.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/g, '$1***').replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');

export function relationshipLine(relationship: Relationship): string {
  if (relationship.conninfo === undefined) return `The standby has no primary_conninfo (read from ${relationship.source}).`;
  const slot = relationship.slotName ? `slot ${relationship.slotName}` : 'no slot';
  return `The standby follows: ${shownConninfo(relationship.conninfo)}; ${slot} (read from ${relationship.source}).`;
}

export function verdictLine(diagnosis: Diagnosis): string {
  const count = (severity: Severity) => diagnosis.findings.filter((f) => f.severity === severity).length;
  const errors = count('error');
  const warnings = count('warning');
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (errors === 0) return `Result: no errors${warnings ? `, ${plural(warnings, 'warning')}` : ''}.`;
  const fixable = diagnosis.findings.filter((f) => f.severity === 'error' && f.fix.fixable).map((f) => f.id);
  const hint = fixable.length > 0 ? ` "pgrepl-wizard doctor --fix" can repair: ${fixable.join(', ')}.` : '';
  return `Result: ${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}.${hint}`;
}

const serverLine = (role: string, server: ServerState) =>
  `${role} ${server.clusterId}: ${server.running ? 'running' : 'stopped'}${server.inRecovery === undefined ? '' : server.inRecovery ? ', in recovery' : ', not in recovery'}`;

/** The facts that show how replication stands: state, lag, slot, the last message received. */
export function replicationLines(state: ReplicationState): string[] {
  const { upstream } = state;
  const sender = upstream ? 'upstream' : 'primary';
  // A cascade's first hop (primary → upstream) is the upstream's own WAL receiver.
  const firstHop = upstream && state.primary.running ? `, walreceiver ${upstream.receiverStatus ?? 'not running'} (its hop from the primary)` : '';
  const lines = [
    'Replication now:',
    `  ${serverLine(upstream ? `upstream ${upstream.label}` : 'primary', state.primary)}${firstHop}`,
    `  ${serverLine('standby', state.standby)}${state.standby.receiverStatus ? `, walreceiver ${state.standby.receiverStatus}` : ''}`,
  ];
  if (state.replayBytes !== undefined) {
    // replay_lag is NULL once the standby has replayed everything the primary sent.
    const lag = state.replayLagSeconds === undefined ? '' : `, replay_lag ${state.replayLagSeconds === null ? 'none (caught up)' : formatSeconds(state.replayLagSeconds)}`;
    lines.push(`  lag: ${formatBytes(state.replayBytes)} not yet replayed on the standby${lag}`);
  }
  if (state.slot) {
    const status = state.slot.walStatus ? ` (wal_status ${state.slot.walStatus})` : '';
    lines.push(`  slot ${state.slot.name}: ${state.slot.active ? 'active' : 'inactive'}, ${formatBytes(state.slot.retainedBytes ?? undefined)} of WAL retained on the ${sender}${status}`);
  }
  if (state.lastMessageAt) {
    const age = state.lastMessageAgeSeconds === undefined ? '' : ` (${formatSeconds(Math.max(0, state.lastMessageAgeSeconds))} before this check)`;
    lines.push(`  last message from the ${sender} received ${state.lastMessageAt}${age}`);
  }
  return lines;
}

export function diagnosisText(diagnosis: Diagnosis, relationship: Relationship): string {
  const lines = [relationshipLine(relationship), '', ...replicationLines(diagnosis.replication), ''];
  for (const group of severityGroups(diagnosis.findings)) {
    lines.push(`${severityHeadings[group.severity]} (${group.findings.length})`);
    for (const f of group.findings) lines.push(`  ${findingHeadline(f)}`, ...findingBody(f));
    lines.push('');
  }
  lines.push(verdictLine(diagnosis));
  return lines.join('\n');
}

/**
 * A step that cannot be planned before the ones above it ran (a stopped primary cannot be
 * queried) is shown as planned for then; it is checked again when it runs.
 */
const plannedLater = (step: StepResult): StepResult =>
  step.status === 'failed' ? { id: step.id, title: step.title, status: 'planned', detail: `planned once the steps above have run (now: ${step.detail})`, actions: [] } : step;

/** The repairs to review before anything changes: their steps, and what is left to the operator. */
export function repairReview(planned: RepairOutcome, plan: RepairPlan): PlanReview {
  const footer = plan.leftAlone.length > 0 ? ['', `Left for you: ${plan.leftAlone.map((f) => `${f.id}${f.slot ? ` (${f.slot})` : ''}`).join(', ')} (see their fix above).`] : [];
  return { kind: 'repairs', heading: ['Repairs (nothing has been changed yet):', ...plan.notes], steps: planned.steps.map(plannedLater), footer };
}

/** A reviewed plan as a runbook, every step with its commands. */
export const reviewLines = (review: PlanReview): string[] => [...review.heading, ...review.steps.flatMap(stepLines), ...review.footer];

/** The repairs as a runbook, before anything changes. */
export const planLines = (planned: RepairOutcome, plan: RepairPlan): string[] => reviewLines(repairReview(planned, plan));

/** What the repairs did, what changed where and how to undo it. */
export const repairLines = (outcome: RepairOutcome): string[] => [...outcome.steps.flatMap(stepLines), ...repairSummaryLines(outcome)];

/** What changed where and how to undo it, and whether every repair ran. */
export function repairSummaryLines(outcome: RepairOutcome): string[] {
  const lines: string[] = [];
  if (outcome.changes.length > 0) {
    lines.push('', 'Changed:');
    for (const change of outcome.changes) {
      lines.push(`  - ${change.side}: ${change.what}${change.backup ? ` (backup: ${change.backup})` : ''}${change.undo ? `\n      undo: ${change.undo}` : ''}`);
    }
  }
  lines.push('', outcome.ok ? 'The repairs ran.' : 'A repair failed; see above. Nothing after it ran.');
  return lines;
}
