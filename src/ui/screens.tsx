import React, { useState } from 'react';
import { Box, Static, Text } from 'ink';
import Spinner from 'ink-spinner';
import type { PairFacts } from '../session.js';
import { hostReport } from '../report.js';
import { blockingProblems } from '../setup/blockers.js';
import { progressLine, stepLines } from '../setup/render.js';
import { Menu, Prompt } from './components.js';
import type { PendingQuestion } from './ink-io.js';
import type { RunState, StepView } from './run-state.js';

export function QuestionBox({ question }: { question: PendingQuestion }) {
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1}>
      {question.details.map((line) => (
        <Text key={line}>{line}</Text>
      ))}
      {question.kind === 'choice' ? (
        <Menu title={question.title} items={question.choices} onSelect={question.answer} />
      ) : (
        <Prompt label={question.title} mask={question.mask} onSubmit={question.answer} />
      )}
    </Box>
  );
}

export function Overview({ facts }: { facts: PairFacts }) {
  const problems = blockingProblems(facts);
  return (
    <Box flexDirection="column">
      {[...hostReport(facts.primary), '', ...hostReport(facts.standby)].map((line, index) => (
        <Text key={index}>{line}</Text>
      ))}
      {problems.map((problem) => (
        <Text key={problem} color="red" bold>
          ✗ {problem}
        </Text>
      ))}
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
      return <Prompt key="role" label="Replication role name:" initial={choices.role} onSubmit={(role) => next({ role: role.trim() || defaults.role }, 'slot')} />;
    case 'slot':
      return <Prompt key="slot" label="Replication slot name:" initial={choices.slot} onSubmit={(slot) => next({ slot: slot.trim() || defaults.slot }, 'archive')} />;
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
