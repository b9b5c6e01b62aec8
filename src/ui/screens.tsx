import React, { useEffect, useMemo, useReducer, useState } from 'react';
import { Box, Static, Text } from 'ink';
import Spinner from 'ink-spinner';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import type { Severity } from '../catalog/catalog.js';
import type { Examination } from '../doctor/doctor.js';
import { findingBody, findingHeadline, relationshipLine, repairSummaryLines, replicationLines, reviewLines, severityGroups, severityHeadings, verdictLine } from '../doctor/render.js';
import type { RepairOutcome } from '../doctor/repair.js';
import { diagnoseJob, doctorNodes } from '../jobs/diagnose.js';
import { repairJob } from '../jobs/repair.js';
import { roleNameProblem, slotNameProblem } from '../setup/prepare.js';
import { progressLine, stepLines } from '../setup/render.js';
import { ErrorBanner, Menu, Prompt } from './components.js';
import type { PendingQuestion } from './ink-io.js';
import { emptyRun, reduceRun, type RunState, type StepView } from './run-state.js';
import { StepsReview } from './steps-review.js';

/** A plan the job asks about: setup's as one line per step, the repairs' whole. */
function ReviewQuestion({ question }: { question: Extract<PendingQuestion, { kind: 'review' }> }) {
  const { review } = question;
  if (review.kind === 'setup') {
    return (
      <StepsReview
        heading={['The plan, one line per step (nothing has been changed yet):', ...review.heading]}
        steps={review.steps}
        question={question.title}
        labels={['Run it', 'Quit without changing anything']}
        onSelect={question.answer}
      />
    );
  }
  return <PlanReview lines={reviewLines(review)} question={question.title} labels={['Run them', 'Back to the findings without changing anything']} onSelect={question.answer} />;
}

export function QuestionBox({ question }: { question: PendingQuestion }) {
  if (question.kind === 'review') return <ReviewQuestion question={question} />;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1}>
      {question.details.map((line) => (
        <Text key={line}>{line}</Text>
      ))}
      {/* Keyed by the question: the next one starts empty, not with the last answer typed. */}
      {question.kind === 'choice' ? (
        <Menu key={question.title} title={question.title} items={question.choices} onSelect={question.answer} />
      ) : (
        <Prompt key={question.title} label={question.title} mask={question.mask} problem={question.problem} onSubmit={question.answer} />
      )}
    </Box>
  );
}

export interface SetupChoices {
  role: string;
  slot: string;
  archiveDir?: string;
  checkpoint: 'fast' | 'spread';
  discardOldData: boolean;
}

type ChoiceField = 'role' | 'slot' | 'archive' | 'archiveDir' | 'checkpoint' | 'keep';

/** Choices asked one at a time, each with its default shown. */
export function ChoicesForm({ defaults, onDone }: { defaults: SetupChoices; onDone: (choices: SetupChoices) => void }) {
  const [field, setField] = useState<ChoiceField>('role');
  const [choices, setChoices] = useState(defaults);
  const next = (change: Partial<SetupChoices>, to: ChoiceField | 'done') => {
    const updated = { ...choices, ...change };
    setChoices(updated);
    if (to === 'done') onDone(updated);
    else setField(to);
  };
  switch (field) {
    case 'role':
      return <Prompt key="role" label="Replication role name:" initial={choices.role} problem={(role) => (role ? roleNameProblem(role) : undefined)} onSubmit={(role) => next({ role: role.trim() || defaults.role }, 'slot')} />;
    case 'slot':
      return <Prompt key="slot" label="Replication slot name:" initial={choices.slot} problem={(slot) => (slot ? slotNameProblem(slot) : undefined)} onSubmit={(slot) => next({ slot: slot.trim() || defaults.slot }, 'archive')} />;
    case 'archive':
      return (
        <Menu
          title="WAL archiving on the primary?"
          items={[
            { label: 'No archiving (the slot keeps the WAL the standby needs)', value: false },
            { label: 'Archive WAL into a directory on the primary', value: true },
          ]}
          onSelect={(archive) => next({ archiveDir: undefined }, archive ? 'archiveDir' : 'checkpoint')}
        />
      );
    case 'archiveDir':
      return <Prompt key="archiveDir" label="Archive directory on the primary:" initial="/var/lib/postgresql/wal-archive" onSubmit={(dir) => next({ archiveDir: dir.trim() }, 'checkpoint')} />;
    case 'checkpoint':
      return (
        <Menu
          title="Checkpoint before the clone"
          items={[
            { label: 'fast: start copying at once (an immediate checkpoint on the primary)', value: 'fast' as const },
            { label: 'spread: gentler on the primary, but the clone can wait minutes', value: 'spread' as const },
          ]}
          onSelect={(checkpoint) => next({ checkpoint }, 'keep')}
        />
      );
    case 'keep':
      return (
        <Menu
          title="The standby's current data directory"
          items={[
            { label: 'Keep it, renamed (undo is possible)', value: false },
            { label: 'Delete it after a good clone (needs less disk)', value: true },
          ]}
          onSelect={(discardOldData) => next({ discardOldData }, 'done')}
        />
      );
  }
}

function StepRow({ step }: { step: StepView }) {
  if (step.result) {
    const color = step.result.status === 'failed' ? 'red' : step.result.status === 'skipped' ? 'gray' : 'green';
    return (
      <Box flexDirection="column">
        {stepLines(step.result).map((line, index) => (
          <Text key={index} color={index === 0 ? color : undefined}>
            {line}
          </Text>
        ))}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>
        <Spinner /> {step.title} ({step.phase ?? 'starting'})
      </Text>
      {step.notes.map((note, index) => (
        <Text key={index} dimColor>
          {'   '}
          {note}
        </Text>
      ))}
    </Box>
  );
}

/** Finished steps print once (Static); only the running one re-renders. */
export function RunView({ run }: { run: RunState }) {
  const finished = run.steps.filter((step) => step.result);
  const running = run.steps.filter((step) => !step.result);
  return (
    <Box flexDirection="column">
      <Static items={finished}>{(step) => <StepRow key={step.id} step={step} />}</Static>
      {running.map((step) => (
        <StepRow key={step.id} step={step} />
      ))}
      {run.progress && <Text color="cyan">{progressLine(run.progress)}</Text>}
    </Box>
  );
}

/** A plan to read before anything changes (destructive and failed lines in red), then go or not. */
export function PlanReview({ lines, question, labels, onSelect }: { lines: string[]; question: string; labels: [string, string]; onSelect: (go: boolean) => void }) {
  return (
    <Box flexDirection="column">
      {lines.map((line, index) => (
        <Text key={index} color={line.includes('!!') || line.startsWith('[FAILED]') ? 'red' : undefined}>
          {line}
        </Text>
      ))}
      <Menu
        title={question}
        items={[
          { label: labels[0], value: true },
          { label: labels[1], value: false },
        ]}
        onSelect={onSelect}
      />
    </Box>
  );
}

const severityColors: Record<Severity, string> = { error: 'red', warning: 'yellow', info: 'gray' };

/** Doctor's findings, grouped by severity, each with its evidence and fix. */
export function FindingsView({ examination }: { examination: Examination }) {
  const { diagnosis, facts } = examination;
  return (
    <Box flexDirection="column">
      <Text>{relationshipLine(facts.relationship)}</Text>
      <Box flexDirection="column" marginTop={1}>
        {replicationLines(diagnosis.replication).map((line, index) => (
          <Text key={index} bold={index === 0}>
            {line}
          </Text>
        ))}
      </Box>
      {severityGroups(diagnosis.findings).map((group) => (
        <Box key={group.severity} flexDirection="column" marginTop={1}>
          <Text bold color={severityColors[group.severity]}>
            {severityHeadings[group.severity]} ({group.findings.length})
          </Text>
          {group.findings.map((finding, index) => (
            <Box key={`${finding.id}-${finding.slot ?? index}`} flexDirection="column">
              <Text color={severityColors[group.severity]}>{findingHeadline(finding)}</Text>
              {findingBody(finding).map((line, lineIndex) => (
                <Text key={lineIndex} dimColor={!/^\s+(fix|--fix):/.test(line)}>
                  {line}
                </Text>
              ))}
            </Box>
          ))}
        </Box>
      ))}
      <Text bold>{verdictLine(diagnosis)}</Text>
    </Box>
  );
}

type DoctorScreen =
  | { kind: 'examining' }
  | { kind: 'findings'; examination: Examination; repairs?: RepairOutcome }
  | { kind: 'repairing'; examination: Examination }
  | { kind: 'failed'; error: unknown };

/** What a screen that runs a job on the session's pair needs (doctor, sync). */
export interface JobScreenProps {
  pair: Pair;
  facts: PairFacts;
  options: Options;
  io: Io;
  /** The job's question is on screen: no spinner says it is working meanwhile. */
  asking: boolean;
  signal: AbortSignal;
  /** Lets the app wait for a running job before it closes the connections. */
  track: <T>(job: Promise<T>) => Promise<T>;
  onExit: (code: number) => void;
}

/**
 * "Troubleshoot a standby": the diagnose job's findings, and on "Fix it" the repair job
 * (its plan reviewed as the job's question, its steps, a fresh diagnosis). This view only
 * renders what the jobs emit and return, and offers what to do next.
 */
export function DoctorFlow({ pair, facts, options, io, asking, signal, track, onExit }: JobScreenProps) {
  const nodes = useMemo(() => doctorNodes(pair, facts), [pair, facts]);
  const [screen, setScreen] = useState<DoctorScreen>({ kind: 'examining' });
  const [run, dispatch] = useReducer(reduceRun, emptyRun);

  useEffect(() => {
    const current = screen;
    const fail = (error: unknown) => setScreen({ kind: 'failed', error });
    if (current.kind === 'examining') {
      track(diagnoseJob(nodes, options, dispatch))
        .then((examination) => setScreen({ kind: 'findings', examination }))
        .catch(fail);
    }
    if (current.kind === 'repairing') {
      track(repairJob({ pair, facts, nodes, examination: current.examination, options, io, emit: dispatch, signal, review: true }))
        .then((result) =>
          setScreen(
            result.kind === 'repaired'
              ? { kind: 'findings', examination: result.after, repairs: result.repairs }
              : // Declined: back to a fresh diagnosis; nothing to repair: the findings as they were.
                result.kind === 'declined'
                ? { kind: 'examining' }
                : { kind: 'findings', examination: current.examination },
          ),
        )
        .catch(fail);
    }
  }, [screen]);

  switch (screen.kind) {
    case 'examining':
      return (
        <Text>
          <Spinner /> Reading both servers' state, views and logs…
        </Text>
      );
    case 'failed':
      return (
        <Box flexDirection="column">
          <ErrorBanner error={screen.error} />
          <Menu title="What next?" items={[{ label: 'Diagnose again', value: true }, { label: 'Quit', value: false }]} onSelect={(again) => (again ? setScreen({ kind: 'examining' }) : onExit(1))} />
        </Box>
      );
    case 'repairing':
      if (run.phase === 'applying') return <RunView run={run} />;
      return asking ? null : (
        <Text>
          <Spinner /> Planning the repairs (nothing is changed yet)…
        </Text>
      );
    case 'findings': {
      const { diagnosis } = screen.examination;
      const fixable = diagnosis.findings.some((f) => f.fix.fixable && !f.resolved);
      return (
        <Box flexDirection="column">
          {screen.repairs && repairSummaryLines(screen.repairs).map((line, index) => <Text key={index}>{line}</Text>)}
          {screen.repairs && <Text bold>After the repairs:</Text>}
          <FindingsView examination={screen.examination} />
          <Menu
            title="What next?"
            items={[
              ...(fixable ? [{ label: 'Fix it: plan the repairs', value: 'fix' as const }] : []),
              { label: 'Diagnose again', value: 'again' as const },
              { label: 'Quit', value: 'quit' as const },
            ]}
            onSelect={(choice) => (choice === 'quit' ? onExit(diagnosis.healthy ? 0 : 1) : setScreen(choice === 'fix' ? { kind: 'repairing', examination: screen.examination } : { kind: 'examining' }))}
          />
        </Box>
      );
    }
  }
}
