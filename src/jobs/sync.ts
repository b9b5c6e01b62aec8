import { UsageError } from '../errors.js';
import type { Io } from '../io.js';
import { slotNameProblem, type Options } from '../options.js';
import type { Host } from '../remote/host.js';
import type { HostFacts } from '../facts/host.js';
import { explainSyncList, formatSyncList, isSynchronousCommit, synchronousCommitLevels, type SyncList, type SynchronousCommit } from '../facts/sync-standbys.js';
import { toNode, type ChangeRecord, type PlannedAction } from '../../steps/contract.js';
import { actionLines } from '../setup/render.js';
import { applySync, readSyncState, requireStreaming, settingOf, streamingNames, syncActions, undoSync, verifySync, type SyncChange, type SyncState } from '../../steps/sync-standbys.js';

export interface SyncOutcome {
  /** synchronous_standby_names before and after ('' = off). */
  before: string;
  after: string;
  synchronousCommit: { before: string; after: string };
  /** What the list gives: which commit waits for whom, and what happens when standbys go away. */
  explanation: string[];
  /** Said before the change, and confirmed twice interactively: a change after which commits can hang. */
  warnings: string[];
  actions: PlannedAction[];
  planOnly: boolean;
  /** False when the operator said no. */
  applied: boolean;
  /** sync_state and the canary commit, read after the change. */
  verified: string[];
  changes: ChangeRecord[];
}

export interface SyncRun {
  host: Host;
  facts: HostFacts;
  options: Options;
  io: Io;
  signal: AbortSignal;
  /** The explanation, warnings and plan, shown before the question. */
  showPlan: (outcome: SyncOutcome) => void;
}

const methodFlags = '--sync-first N, --sync-any N or --sync-off';

/** The names the list is built over: --sync-names, else the config file's standbys, else those streaming now (by name). */
function candidateNames(options: Options, state: SyncState): string[] {
  const given = options.syncNames?.split(',').map((name) => name.trim()).filter(Boolean);
  const names = given ?? options.standbyNames ?? streamingNames(state).sort();
  for (const name of names) {
    const problem = slotNameProblem(name);
    if (problem) throw new UsageError(`--sync-names: ${problem}`, 'name the standbys by their names (slot and application_name), comma-separated');
  }
  if (new Set(names).size !== names.length) throw new UsageError(`--sync-names names a standby twice (${names.join(', ')})`, 'name each standby once, in priority order');
  if (names.length === 0) throw new UsageError('no standby to make synchronous: none streams from this primary and none is named', 'set up a standby first (setup), or name them with --sync-names');
  return names;
}

function parseCount(value: string, flag: string, names: readonly string[]): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > names.length) {
    throw new UsageError(`${flag} ${value}: the number of standbys each commit waits for must be 1 to ${names.length} (the standbys named: ${names.join(', ')})`, `pass ${flag} with a number from 1 to ${names.length}`);
  }
  return count;
}

/** The list the operator asks for: from the flags, or chosen on screen (method, then how many, each choice explained). */
async function chosenList(options: Options, io: Io, state: SyncState): Promise<SyncList | undefined> {
  if (options.syncOff) {
    if (options.syncFirst || options.syncAny) throw new UsageError('--sync-off with --sync-first or --sync-any', `pass one of ${methodFlags}`);
    return undefined;
  }
  if (options.syncFirst && options.syncAny) throw new UsageError('--sync-first and --sync-any both given', `pass one of ${methodFlags}`);
  const names = candidateNames(options, state);
  if (options.syncFirst) return { method: 'first', count: parseCount(options.syncFirst, '--sync-first', names), names };
  if (options.syncAny) return { method: 'any', count: parseCount(options.syncAny, '--sync-any', names), names };
  const method = await io.choose<'first' | 'any' | 'off'>(
    `Synchronous replication over ${names.join(', ')} (now: ${state.setting ? `'${state.setting}'` : 'off'}): how are the standbys a commit waits for chosen?`,
    [
      { label: 'FIRST n: by priority', detail: `the first n of ${names.join(', ')} in this order that stream (pg_stat_replication: sync, the others potential)`, value: 'first' },
      { label: 'ANY n: a quorum', detail: 'whichever n answer first (pg_stat_replication: quorum)', value: 'any' },
      { label: 'off', detail: 'commits wait for no standby', value: 'off' },
    ],
    methodFlags,
  );
  if (method === 'off') return undefined;
  const counts = names.map((_, index) => ({ method, count: index + 1, names }));
  return io.choose(
    'How many standbys must confirm each commit?',
    counts.map((list) => ({ label: formatSyncList(list), detail: explainSyncList(list).join(' '), value: list })),
    method === 'first' ? '--sync-first N' : '--sync-any N',
  );
}

/** synchronous_commit as the operator chooses it: the flag, on screen, or kept as it is. */
async function chosenCommit(options: Options, io: Io, state: SyncState, list: SyncList | undefined): Promise<SynchronousCommit | undefined> {
  const given = options.synchronousCommit;
  if (given !== undefined) {
    if (!isSynchronousCommit(given)) throw new UsageError(`--synchronous-commit ${given} is not a level`, `pass one of ${Object.keys(synchronousCommitLevels).join(', ')}`);
    return given === state.synchronousCommit ? undefined : given;
  }
  if (!io.interactive || !list) return undefined;
  const keep = { label: `keep synchronous_commit = ${state.synchronousCommit}`, detail: synchronousCommitLevels[state.synchronousCommit as SynchronousCommit], value: undefined };
  const levels = Object.entries(synchronousCommitLevels).map(([level, what]) => ({ label: level, detail: what, value: level as SynchronousCommit }));
  const chosen = await io.choose<SynchronousCommit | undefined>('What should a commit wait for (synchronous_commit, server-wide; a session can still set its own)?', [keep, ...levels], '--synchronous-commit LEVEL');
  return chosen === state.synchronousCommit ? undefined : chosen;
}

function warningsFor(list: SyncList | undefined, commit: string): string[] {
  if (!list) return ['with synchronous replication off, a commit returns once the primary alone has it: a standby promoted after the primary fails can miss the last commits'];
  const warnings: string[] = [];
  if (list.names.length === list.count) {
    warnings.push(`every commit will wait for all of ${list.names.join(', ')}: when one of them stops (a restart, a network cut, a failure) every commit on the primary waits until it streams again or the list is changed (sync --sync-off, or doctor --fix)`);
  }
  if (commit === 'local' || commit === 'off') warnings.push(`synchronous_commit = ${commit}: commits will not wait for the standbys unless a session sets synchronous_commit = on itself`);
  return warnings;
}

/**
 * The synchronous replication builder (README "Synchronous replication"): read what the
 * primary streams to, take the list the operator chooses (flags or screen), explain it,
 * refuse it while a standby it names does not stream, warn when commits could hang, show the
 * plan, confirm, set it with ALTER SYSTEM and a reload, and prove it (sync_state and a canary
 * commit); a failed proof puts the old settings back.
 */
export async function syncJob(run: SyncRun): Promise<SyncOutcome> {
  const { options, io } = run;
  const primary = toNode(run.host, run.facts);
  const state = await readSyncState(primary);
  const list = await chosenList(options, io, state);
  if (list) requireStreaming(primary, list, state);
  const change: SyncChange = { list, synchronousCommit: await chosenCommit(options, io, state, list) };
  const after = settingOf(change);
  const commitAfter = change.synchronousCommit ?? state.synchronousCommit;
  const unchanged = after === state.setting && change.synchronousCommit === undefined;
  const outcome: SyncOutcome = {
    before: state.setting,
    after,
    synchronousCommit: { before: state.synchronousCommit, after: commitAfter },
    explanation: list ? [...explainSyncList(list), `synchronous_commit = ${commitAfter}: ${synchronousCommitLevels[commitAfter as SynchronousCommit] ?? ''}`] : ['off: no commit waits for a standby'],
    warnings: unchanged ? [] : warningsFor(list, commitAfter),
    actions: unchanged ? [] : await syncActions(primary, change),
    planOnly: Boolean(options.plan),
    applied: false,
    verified: [],
    changes: [],
  };
  if (options.plan) return outcome;
  if (!unchanged) {
    run.showPlan(outcome);
    const question = `Set synchronous_standby_names = '${after}'${change.synchronousCommit ? ` and synchronous_commit = ${change.synchronousCommit}` : ''} on the primary?`;
    if (!options.yes && !(await io.confirm(question, '--yes'))) return outcome;
    if (!options.yes && outcome.warnings.length > 0 && list && !(await io.confirm(`Once more, knowing that ${outcome.warnings[0]}: set it?`, '--yes'))) return outcome;
    const backup = await applySync(primary, change, (record) => outcome.changes.push(record));
    outcome.applied = true;
    try {
      outcome.verified = await verifySync(primary, list, run.signal);
    } catch (error) {
      await undoSync(primary, backup);
      outcome.changes.push({ side: 'primary', what: `put postgresql.auto.conf back from ${backup} and reloaded (the proof failed)` });
      throw error;
    }
    return outcome;
  }
  outcome.verified = await verifySync(primary, list, run.signal);
  return outcome;
}

const settingText = (setting: string) => (setting ? `'${setting}'` : "'' (off)");

/** The explanation, the warnings and the plan, as the command prints them and the screen shows them before the question. */
export function syncPlanLines(outcome: SyncOutcome, label: string): string[] {
  return [
    `# synchronous replication on the primary ${label}: synchronous_standby_names ${settingText(outcome.before)} → ${settingText(outcome.after)}`,
    ...outcome.explanation.map((line) => `  ${line}`),
    ...outcome.warnings.map((line) => `  WARNING: ${line}`),
    ...(outcome.actions.length > 0 ? outcome.actions.flatMap(actionLines) : ['  nothing to change: the primary is set so already']),
  ];
}

/** What was done and proven, with the undo. */
export function syncResultLines(outcome: SyncOutcome): string[] {
  if (!outcome.applied && outcome.actions.length > 0) return ['Nothing was changed.'];
  return [
    outcome.applied ? `Result: synchronous_standby_names = ${settingText(outcome.after)} (was ${settingText(outcome.before)}), synchronous_commit = ${outcome.synchronousCommit.after}` : `Already set: synchronous_standby_names = ${settingText(outcome.after)}, synchronous_commit = ${outcome.synchronousCommit.after}`,
    ...outcome.verified.map((line) => `  - ${line}`),
    ...outcome.changes.flatMap((change) => [`  - ${change.what}${change.backup ? ` (backup ${change.backup})` : ''}`, ...(change.undo ? [`    undo: ${change.undo}`] : [])]),
  ];
}
