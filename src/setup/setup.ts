import { toNode, where, type ChangeRecord, type PlannedAction, type SetupSettings, type StepContext } from '../../steps/contract.js';
import { setupSteps } from '../../steps/index.js';
import { dropOldUpstreamSlotStep } from '../../steps/drop-slots.js';
import { cloneStandbyStep } from '../../steps/clone-standby.js';
import { nameTakenElsewhere } from '../../steps/replication-slot.js';
import { gatherCloneFacts, reportClonePrechecks } from '../../steps/lib/clone-prechecks.js';
import { requireRoot } from '../../steps/lib/privilege.js';
import { upstreamStreams } from '../../steps/lib/cascade.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { serverHome } from '../facts/host.js';
import { timed } from '../timings.js';
import { blockingProblems } from './blockers.js';
import { slotLeftNote, type OldUpstream } from './old-upstream.js';
import { resolveSettings } from './prepare.js';
import { holdingRunLocks } from './run-lock.js';
import { errorDetail, runSteps, type RunnerEvent, type StepResult } from './runner.js';

export interface SetupOutcome {
  ok: boolean;
  planOnly: boolean;
  steps: StepResult[];
  changes: ChangeRecord[];
  /** What the operator is left to do (a re-point that could not reach the old upstream). */
  notes?: string[];
  /** Everything the steps were told, except the password. */
  settings: Omit<SetupSettings, 'password'>;
}

/**
 * Who may say yes to a destructive action. A primary restart needs --restart-primary
 * headless (it is a production server); replacing the standby's data needs --yes, or the
 * operator typing the standby's host name; moving files out of the WAL archive needs --yes or a yes.
 */
export async function confirmDestructive(action: PlannedAction, options: Options, io: Io, standbyName: string): Promise<boolean> {
  if (action.destructive === 'restart-primary') {
    if (options.restartPrimary) return true;
    if (!io.interactive || options.yes) return false;
    return io.confirm(`${action.summary}. Restart the primary now?`, '--restart-primary');
  }
  if (options.yes) return true;
  if (action.destructive === 'move-archive-files') return io.confirm(`${action.summary}. Move them?`, '--yes');
  return io.confirm(`${action.summary}. This replaces the standby's data directory.`, '--yes', standbyName);
}

export interface SetupRun {
  pair: Pair;
  facts: PairFacts;
  settings: SetupSettings;
  options: Options;
  io: Io;
  emit: (event: RunnerEvent) => void;
  signal: AbortSignal;
  planOnly: boolean;
  /** The server the standby streams from before this run points it elsewhere: its slot there is dropped last. */
  oldUpstream?: OldUpstream;
}

/**
 * The server the standby clones and streams from, which the steps call its primary: the
 * primary itself, or in a cascade (--upstream) the standby upstream of it. The steps that
 * must write on the real primary (the replication role, the canary) get it as the origin.
 */
function streamingFrom(pair: Pair, facts: PairFacts): { pair: Pair; facts: PairFacts } {
  if (!pair.upstream || !facts.upstream) return { pair, facts };
  return { pair: { ...pair, primary: pair.upstream }, facts: { ...facts, primary: facts.upstream } };
}

/** Settings are resolved once (the password asked once), then planned and applied with them. */
export function prepareSetup(pair: Pair, facts: PairFacts, options: Options, io: Io): Promise<SetupSettings> {
  return timed('settings (addresses, passfile, password)', async () => {
    if (!pair.upstream) return resolveSettings(pair, facts, options, io);
    if (options.archiveDir !== undefined) {
      throw new UsageError('--archive-dir with --upstream: archiving is set up on the primary, not on a cascade\'s upstream', 'set up archiving with the primary\'s own standby (without --upstream), then cascade without --archive-dir');
    }
    // --primary-address names the primary; a cascaded standby reaches its upstream at the upstream's address.
    const source = streamingFrom(pair, facts);
    return resolveSettings(source.pair, source.facts, { ...options, primaryAddress: undefined }, io);
  });
}

export async function runSetup({ pair, facts, settings, options, io, emit, signal, planOnly, oldUpstream }: SetupRun): Promise<SetupOutcome> {
  const source = streamingFrom(pair, facts);
  const primary = toNode(source.pair.primary, source.facts.primary);
  const standby = toNode(pair.standby, facts.standby);
  const origin = pair.upstream ? toNode(pair.primary, facts.primary) : undefined;
  const changes: ChangeRecord[] = [];
  const notes = new Map<string, string[]>();
  const dropOldSlot = oldUpstream?.node && dropOldUpstreamSlotStep(oldUpstream.slot);
  const ownSteps = origin ? setupSteps.map((step) => (step.upstreamTitle ? { ...step, title: step.upstreamTitle } : step)) : setupSteps;
  const steps = dropOldSlot ? [...ownSteps, dropOldSlot] : ownSteps;
  const contextFor = (stepId: string): StepContext => ({
    // The old upstream's slot is dropped there: it holds the slot as a primary holds a standby's.
    primary: stepId === dropOldSlot?.id ? oldUpstream!.node! : primary,
    standby,
    ...(origin ? { origin } : {}),
    settings,
    signal,
    // The standby's own host name (from the machine itself) is what the operator must type.
    confirm: (action) => confirmDestructive(action, options, io, facts.standby.identity.hostname),
    progress: (progress) => emit({ type: 'progress', progress }),
    note: (line) => {
      notes.set(stepId, [...(notes.get(stepId) ?? []), line]);
      emit({ type: 'note', id: stepId, line });
    },
    recordChange: (change) => changes.push(change),
  });
  // A stall both connections rode out is told in the step it happened in.
  let currentStep = preflightId;
  const unwatch = [pair.primary, pair.standby, ...(pair.upstream ? [pair.upstream] : [])].map((host) => host.watchConnection?.((line) => contextFor(currentStep).note(line)));
  const tracking = (event: RunnerEvent) => {
    if (event.type === 'step-start') currentStep = event.id;
    emit(event);
  };
  let results: StepResult[];
  try {
    // The run locks live in the server users' homes: asked beside the prechecks, not after them (once a run).
    if (!planOnly) [primary, standby].forEach((node) => void serverHome(node.host).catch(() => undefined));
    const preflightFailure = await timed('prechecks before any change', () => preflight(facts, planOnly, contextFor(preflightId)));
    const run = () => runSteps(steps, contextFor, { planOnly, emit: tracking });
    results = preflightFailure
      ? [preflightFailure, ...steps.map((step): StepResult => ({ id: step.id, title: step.title, status: 'skipped', detail: 'not run: a precheck failed' }))]
      : planOnly
        ? await run()
        : await holdingRunLocks([primary, standby], (line) => contextFor(preflightId).note(line), run);
  } finally {
    unwatch.forEach((stop) => stop?.());
  }
  const { password: _secret, ...shown } = settings;
  return {
    ok: results.every((s) => s.status !== 'failed'),
    planOnly,
    steps: results.map((step) => (notes.has(step.id) ? { ...step, notes: notes.get(step.id) } : step)),
    changes,
    ...(oldUpstream && !oldUpstream.node ? { notes: [slotLeftNote(oldUpstream)] } : {}),
    settings: shown,
  };
}

const preflightId = 'prechecks';

/**
 * Standby-side blockers (disk, versions, the target being the primary or somebody's primary)
 * and a command that needs root the login user may not run as root stop the run before step
 * 1 changes anything on the primary. Checks that the earlier steps will make pass (pg_hba,
 * role, listen_addresses) run again right before the clone. Every precheck only reads, so
 * their facts are all asked at once (one wait, not one after another); they are judged, and
 * the first failure reported, in the order an operator reads them.
 */
async function preflight(facts: PairFacts, planOnly: boolean, ctx: StepContext): Promise<StepResult | undefined> {
  const failed = (error: StepResult['error']): StepResult => ({ id: preflightId, title: 'Prechecks before any change', status: 'failed', detail: error!.message, error });
  const [problem] = blockingProblems(facts);
  if (problem) return failed({ message: problem, where: 'the pair of hosts', fix: 'nothing was changed; correct the hosts or clusters named and run again' });
  const taken = timed('precheck: the standby name taken by another standby', () => nameTakenElsewhere(ctx));
  const cloning = timed('precheck: whether the standby is cloned already', () => cloneStandbyStep.check(ctx)).then((check) => !check.done);
  const rootRefusal = cloning.then((clone) => timed('precheck: the commands that need root', () => requireRoot(ctx, clone)));
  const cloneFacts = cloning.then((clone) => (planOnly || !clone ? undefined : timed('precheck: the clone prechecks (facts)', () => gatherCloneFacts(ctx, 'plan'))));
  // Read ahead; a failure is reported where its check comes, unless an earlier one stops the run first.
  [taken, rootRefusal, cloneFacts].forEach((reading) => reading.catch(() => undefined));
  try {
    const takenBy = await taken;
    if (takenBy) {
      return failed({ message: takenBy, where: where(ctx.primary), fix: 'nothing was changed; each standby has a name of its own (its slot and application_name): choose another with --slot (or --standby NAME of its own entry in the config file), or point this run at the standby that has that name' });
    }
    await rootRefusal;
    if (ctx.origin) ctx.note(await upstreamStreams(ctx));
    const clone = await cloneFacts;
    if (clone) reportClonePrechecks(ctx, 'plan', clone);
    return undefined;
  } catch (error) {
    return failed(errorDetail(error));
  }
}
