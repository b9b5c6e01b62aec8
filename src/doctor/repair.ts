import { UsageError, WizardError } from '../errors.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { passwordEnv, shortPasswordProblem } from '../options.js';
import { sourceAddressTowards } from '../facts/host.js';
import { defaultRoleName, parseTablespaceMap, slotNameFor } from '../setup/prepare.js';
import { holdingRunLocks } from '../setup/run-lock.js';
import { runSteps, type RunnerEvent, type StepResult } from '../setup/runner.js';
import { confirmDestructive } from '../setup/setup.js';
import type { ChangeRecord, SetupSettings, Step, StepContext } from '../../steps/contract.js';
import { cloneStandbyStep } from '../../steps/clone-standby.js';
import { pgHbaStep } from '../../steps/pg-hba.js';
import { primarySettingsStep } from '../../steps/primary-settings.js';
import { recoveryConfigStep } from '../../steps/recovery-config.js';
import { replicationRoleStep } from '../../steps/replication-role.js';
import { replicationSlotStep } from '../../steps/replication-slot.js';
import { startStandbyStep } from '../../steps/start-standby.js';
import { verifyStreamingStep } from '../../steps/verify-streaming.js';
import { rewindStandbyStep } from '../../steps/rewind-standby.js';
import { syncReleaseStep } from '../../steps/sync-standbys.js';
import { hintsMissing, runRewind, targetRunning } from '../../steps/lib/rewind.js';
import type { FindingId } from '../catalog/catalog.js';
import type { Diagnosis, Finding, RepairId } from './diagnose.js';
import type { DoctorNodes } from './doctor.js';
import { recoverySetting, replicationUser, type DoctorFacts } from './facts.js';
import { archiveCleanupOf, archiveCleanupStep } from './archive-cleanup.js';
import { archiveSettingNames, restoreDirectoryOf } from '../../steps/lib/wal-archive.js';
import { setAsideStrayTimelinesStep } from './stray-timelines.js';
import { dropSlotsStep } from '../../steps/drop-slots.js';
import { awaitStreamingStep, convertRecoveryConfStep, passfileStep, standbyMinimumsStep, startPrimaryStep, walLevelInFilesStep } from './repair-steps.js';

/**
 * doctor --fix: the findings' repairs become one run of steps, in runbook order, through the
 * same runner (and the same confirmations) as setup. The settings the steps need come from
 * the standby's own recovery configuration, not from flags: doctor repairs the pair as it is.
 */

/** The steps of each repair; a step needed by several runs once. */
const repairSteps: Record<RepairId, string[]> = {
  role: [passfileStep.id, replicationRoleStep.id],
  // Raising a setting on the primary can leave the standby's below it (PG 12+: max_wal_senders): the standby is raised first.
  'primary-wal-level-files': [walLevelInFilesStep.id, standbyMinimumsStep.id, startStandbyStep.id],
  'start-primary': [startPrimaryStep.id],
  'primary-settings': [primarySettingsStep.id, standbyMinimumsStep.id, startStandbyStep.id],
  hba: [pgHbaStep.id],
  slot: [replicationSlotStep.id],
  'drop-slot': ['drop-slots'],
  reclone: [replicationSlotStep.id, cloneStandbyStep.id, recoveryConfigStep.id, startStandbyStep.id],
  'convert-recovery-conf': [convertRecoveryConfStep.id],
  'standby-settings': [standbyMinimumsStep.id],
  'recovery-config': [passfileStep.id, replicationSlotStep.id, recoveryConfigStep.id],
  'start-standby': [startStandbyStep.id],
  'archive-cleanup': ['archive-cleanup'],
  'sync-release': [syncReleaseStep.id],
};

/**
 * Runbook order: the primary first, then the standby, then the proof, but the standby's
 * hot-standby settings before the primary's restart raises them (the standby is stopped for
 * it and started by the start step); the archive is cleaned once the standby streams and its
 * needs count.
 */
const stepOrder = (dropSlots: Step, archiveCleanup: Step): Step[] => [
  // First: while commits hang, so would every repair that commits (a role's password, …).
  syncReleaseStep,
  passfileStep,
  replicationRoleStep,
  walLevelInFilesStep,
  startPrimaryStep,
  standbyMinimumsStep,
  primarySettingsStep,
  pgHbaStep,
  replicationSlotStep,
  dropSlots,
  cloneStandbyStep,
  rewindStandbyStep,
  // After the rewind (pg_rewind --restore-target-wal may read the stray timeline's WAL), before the start.
  setAsideStrayTimelinesStep,
  convertRecoveryConfStep,
  recoveryConfigStep,
  startStandbyStep,
  verifyStreamingStep,
  awaitStreamingStep,
  archiveCleanup,
];

// A rewind that fails is followed by a clone, which stores the password.
const needsPassword = new Set([passfileStep.id, replicationRoleStep.id, cloneStandbyStep.id, rewindStandbyStep.id]);

/** A forked history: pg_rewind can bring these back instead of a clone (the others are not copies of the primary's history). */
const rewindable = new Set<FindingId>(['standby-not-in-recovery', 'timeline-diverged']);

/**
 * Whether pg_rewind can do a re-clone's work, from a pg_rewind --dry-run now: it changes
 * nothing, and its checks of the data checksums / wal_log_hints of the standby and the
 * primary's full_page_writes come before the one that wants a stopped standby. The reason,
 * in pg_rewind's own words, goes into the plan either way.
 */
async function rewindChoice(nodes: DoctorNodes): Promise<{ rewind: boolean; why: string[] }> {
  const dryRun = await runRewind(nodes.primary, nodes.standby, { dryRun: true });
  const said = dryRun.lines.filter((line) => line.startsWith('pg_rewind: ')).map((line) => `  ${line}`);
  if (dryRun.ok || dryRun.error === targetRunning) {
    return {
      rewind: true,
      why: [`pg_rewind can rewind the standby instead of cloning it again (pg_rewind --dry-run${dryRun.ok ? '' : ' while the standby still runs'}):`, ...said],
    };
  }
  const hint = dryRun.error === hintsMissing ? ['Set wal_log_hints = on on both servers (setup offers it; a restart) so that a later repair can rewind.'] : [];
  return {
    rewind: false,
    why: [`pg_rewind cannot be used: "${dryRun.error}" (pg_rewind --dry-run); the standby is cloned again instead, its old data directory kept renamed.`, ...said, ...hint],
  };
}


/** The standby's restore_command and archive_cleanup_command as it runs with them now (recovery.conf lines up to PG 11). */
function standbyArchiveSettingsOf(standby: DoctorFacts['standby']): Record<string, string> {
  return Object.fromEntries(archiveSettingNames.flatMap((name) => {
    const value = recoverySetting(standby, name);
    return value ? [[name, value]] : [];
  }));
}

export interface RepairPlan {
  steps: Step[];
  settings: SetupSettings;
  /** Inactive slots the operator confirmed by name. */
  dropSlots: string[];
  /** Findings --fix leaves alone: no repair, or a slot nobody named. */
  leftAlone: Finding[];
  /** Why the plan rewinds the standby or clones it again. */
  notes: string[];
  /** Run when the rewind fails: the re-clone, with its settings. */
  fallback?: { steps: Step[]; settings: SetupSettings };
}

/**
 * Which inactive slots to drop: those named with --drop-slot, or (interactively) confirmed
 * by typing the slot's name. A named slot that is not an inactive slot doctor found is refused.
 */
async function confirmSlotDrops(findings: readonly Finding[], options: Options, io: Io): Promise<string[]> {
  const droppable = findings.filter((f) => f.fix.repairs.includes('drop-slot')).map((f) => f.slot!);
  const named = (options.dropSlot ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = named.filter((name) => !droppable.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(`--drop-slot ${unknown.join(', ')}: not an inactive slot doctor found`, `doctor drops only inactive slots it reports (${droppable.join(', ') || 'none now'}), never the standby's own`);
  }
  const confirmed = [...named];
  if (io.interactive) {
    for (const slot of droppable.filter((name) => !named.includes(name))) {
      const finding = findings.find((f) => f.slot === slot)!;
      if (await io.confirm(`Drop replication slot ${slot}? ${finding.detail ?? ''} Whatever used it can no longer resume from it.`, `--drop-slot ${slot}`, slot)) confirmed.push(slot);
    }
  }
  return confirmed;
}

/**
 * The password the repairs set and store: PGREPL_PASSWORD, primary_conninfo's, the passfile's (as
 * the examination read it: with primary_conninfo gone, the line for the connection the repairs
 * write, where setup stored it); asked for when none.
 */
async function repairPassword(facts: DoctorFacts, role: string, needed: boolean, options: Options, io: Io): Promise<string> {
  const { relationship } = facts;
  const known = options.password || relationship.params.password || relationship.storedPassword || '';
  if (known || !needed) return known;
  if (io.interactive) {
    const asked = await io.askSecret(`Password for replication role ${role} (it is set on the primary and stored on the standby):`, passwordEnv);
    const tooShort = asked ? shortPasswordProblem(asked, 'the password typed') : undefined;
    if (tooShort) throw tooShort;
    if (asked) return asked;
  }
  throw new WizardError(
    `the repairs set role ${role}'s password and store it on the standby, but no password is known (none in primary_conninfo or ${facts.relationship.passfile})`,
    'doctor --fix',
    `set ${passwordEnv} to the password the standby should use and run again`,
  );
}

export async function planRepairs(pair: Pair, nodes: DoctorNodes, examined: { facts: DoctorFacts; diagnosis: Diagnosis }, options: Options, io: Io): Promise<RepairPlan> {
  const { facts, diagnosis } = examined;
  const dropSlots = await confirmSlotDrops(diagnosis.findings, options, io);
  const chosen = diagnosis.findings.filter((f) => !f.resolved && f.fix.fixable && (!f.fix.repairs.includes('drop-slot') || dropSlots.includes(f.slot!)));
  // The standby's own idle slot comes back into use when the standby streams again.
  const ownSlotIdle = (f: Finding) => f.id === 'slot-inactive' && f.slot === facts.relationship.slotName;
  const leftAlone = diagnosis.findings.filter((f) => !f.resolved && f.severity !== 'info' && !chosen.includes(f) && !ownSlotIdle(f));
  const ids = new Set(chosen.flatMap((f) => f.fix.repairs.flatMap((repair) => repairSteps[repair])));
  const recloneFor = chosen.filter((f) => f.fix.repairs.includes('reclone'));
  const choice = recloneFor.length > 0 && recloneFor.every((f) => rewindable.has(f.id)) ? await rewindChoice(nodes) : undefined;
  if (choice) {
    // A former primary turned into a standby has neither a pg_hba.conf line on the new primary nor a stored password.
    ids.add(pgHbaStep.id);
    ids.add(passfileStep.id);
  }
  if (choice?.rewind) {
    ids.delete(cloneStandbyStep.id);
    ids.add(rewindStandbyStep.id);
  }
  // A standby rewound or cloned again that restores from the archive must not find there a timeline the primary's history lacks.
  const keptArchive = standbyArchiveSettingsOf(facts.standby);
  if ((ids.has(cloneStandbyStep.id) || ids.has(rewindStandbyStep.id)) && restoreDirectoryOf(keptArchive.restore_command ?? '') !== undefined) ids.add(setAsideStrayTimelinesStep.id);
  // Streaming is proven at the end only when nothing left alone keeps the standby from it:
  // with the canary through the slot, or (a pair that streams without a slot) from both views.
  const slotInUse = facts.relationship.slotName !== undefined || ids.has(recoveryConfigStep.id);
  if (ids.size > 0 && !leftAlone.some((f) => f.severity === 'error')) ids.add(slotInUse ? verifyStreamingStep.id : awaitStreamingStep.id);
  // The archive is cleaned up to what the diagnosis showed at the most.
  const { archive, walNeed } = facts.primary;
  const keepFrom = archive && walNeed ? archiveCleanupOf(archive, walNeed.keepFrom).keepFrom : '';
  const steps = stepOrder(dropSlotsStep(dropSlots), archiveCleanupStep(keepFrom)).filter((step) => ids.has(step.id));

  const { relationship } = facts;
  const params = relationship.params;
  // Without primary_conninfo nothing names the standby's role: setup's (--role, default repl), never the server's OS user.
  const roleName = relationship.conninfo === undefined ? (options.role ?? defaultRoleName) : replicationUser(relationship, nodes.standby.cluster.owner);
  // What the standby streams from: the primary, or in a cascade its upstream (whose port the steps use too).
  const streamsFrom = nodes.primary.host;
  const primaryAddress = params.hostaddr ?? params.host ?? streamsFrom.address;
  const standbyAddress = relationship.standbyAddress ?? (await sourceAddressTowards(pair.standby, primaryAddress, '--standby-address'));
  const needed = steps.some((step) => needsPassword.has(step.id));
  const settings: SetupSettings = {
    roleName,
    password: await repairPassword(facts, roleName, needed, options, io),
    passwordGenerated: false,
    slotName: relationship.slotName ?? slotNameFor(pair.standby.address),
    primaryAddress,
    standbyAddress,
    primaryListenAddress: await sourceAddressTowards(streamsFrom, standbyAddress, '--primary-address'),
    checkpoint: 'fast',
    keepOldData: !options.discardOldData,
    tablespaceMap: parseTablespaceMap(options.tablespaceMap),
    passfile: relationship.passfile,
    // The standby's own TLS settings are kept when the repairs write primary_conninfo again.
    tls: params.sslmode ? { sslmode: params.sslmode, rootCert: params.sslrootcert } : undefined,
    reclone: ids.has(cloneStandbyStep.id),
    keptArchive,
  };
  const fallback = choice?.rewind ? { steps: steps.map((step) => (step.id === rewindStandbyStep.id ? cloneStandbyStep : step)), settings: { ...settings, reclone: true } } : undefined;
  return { steps, settings, dropSlots, leftAlone, notes: choice?.why ?? [], fallback };
}

export interface RepairOutcome {
  ok: boolean;
  /** Why the standby is rewound or cloned again (pg_rewind's own words), when that was decided. */
  notes: string[];
  steps: StepResult[];
  changes: ChangeRecord[];
}

export interface RepairRun {
  nodes: DoctorNodes;
  facts: PairFacts;
  plan: RepairPlan;
  options: Options;
  io: Io;
  emit: (event: RunnerEvent) => void;
  signal: AbortSignal;
  planOnly: boolean;
}

/** Plans (planOnly) or applies the repairs with a context like setup's: the same confirmations. */
export async function runRepairs({ nodes, facts, plan, options, io, emit, signal, planOnly }: RepairRun): Promise<RepairOutcome> {
  const changes: ChangeRecord[] = [];
  const contextFor = (settings: SetupSettings) => (stepId: string): StepContext => ({
    ...nodes,
    settings,
    signal,
    confirm: (action) => confirmDestructive(action, options, io, facts.standby.identity.hostname),
    progress: (progress) => emit({ type: 'progress', progress }),
    note: (line) => emit({ type: 'note', id: stepId, line }),
    recordChange: (change) => changes.push(change),
  });
  // One run at a time per cluster, as setup: a setup or another --fix may be changing the same files.
  const run = () => runPlanned(plan, contextFor, { planOnly, emit }, changes);
  if (planOnly) return run();
  return holdingRunLocks([nodes.primary, nodes.standby], (line) => emit({ type: 'note', id: 'run-lock', line }), run);
}

/** The plan's steps through the setup runner; a failed rewind is followed by its fallback clone. */
async function runPlanned(
  plan: RepairPlan,
  contextFor: (settings: SetupSettings) => (stepId: string) => StepContext,
  { planOnly, emit }: { planOnly: boolean; emit: (event: RunnerEvent) => void },
  changes: ChangeRecord[],
): Promise<RepairOutcome> {
  const steps = await runSteps(plan.steps, contextFor(plan.settings), { planOnly, emit });
  const rewind = steps.find((step) => step.id === rewindStandbyStep.id && step.status === 'failed');
  if (!rewind || !plan.fallback) return { ok: steps.every((step) => step.status !== 'failed'), notes: plan.notes, steps, changes };
  // The way out of a refused or broken rewind: the clone, which asks for its own confirmation.
  emit({ type: 'note', id: rewindStandbyStep.id, line: `${rewind.detail}\nthe standby is cloned again instead (its old data directory is kept, renamed), once you confirm` });
  const rest = steps.filter((step) => step.status !== 'skipped');
  const fallback = await runSteps(plan.fallback.steps.filter((step) => !rest.some((done) => done.id === step.id && done.status !== 'failed')), contextFor(plan.fallback.settings), { planOnly, emit });
  return { ok: fallback.every((step) => step.status !== 'failed'), notes: [...plan.notes, rewind.detail], steps: [...rest, ...fallback], changes };
}
