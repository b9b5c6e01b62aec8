import React from 'react';
import { Box, Text, useInput } from 'ink';
import { useKeyState } from './components.js';
import { destructiveMark, statusLabel, stepLines } from '../setup/render.js';
import type { StepResult } from '../setup/runner.js';

/**
 * A plan to review as one line per step (what, where, destructive marked); Enter on a step
 * opens its exact commands, SQL and diffs. The cursor starts on the first answer, so Enter
 * alone answers as a plain menu would.
 */

export interface ReviewState {
  /** Steps first, then the answers. */
  cursor: number;
  open: readonly number[];
}

export type ReviewKey = 'up' | 'down' | 'enter';

export const initialReview = (stepCount: number): ReviewState => ({ cursor: stepCount, open: [] });

/** Moves the cursor, or opens/closes the step under it; Enter on an answer is the caller's. */
export function reduceReview(state: ReviewState, key: ReviewKey, itemCount: number, stepCount: number): ReviewState {
  switch (key) {
    case 'up':
      return { ...state, cursor: Math.max(0, state.cursor - 1) };
    case 'down':
      return { ...state, cursor: Math.min(itemCount - 1, state.cursor + 1) };
    case 'enter':
      if (state.cursor >= stepCount) return state;
      return { ...state, open: state.open.includes(state.cursor) ? state.open.filter((i) => i !== state.cursor) : [...state.open, state.cursor] };
  }
}

const statusColors: Partial<Record<StepResult['status'], string>> = { failed: 'red', 'already-done': 'green', skipped: 'gray' };

function StepLine({ step, index, selected, open }: { step: StepResult; index: number; selected: boolean; open: boolean }) {
  const actions = step.actions ?? [];
  const sides = [...new Set(actions.map((action) => action.side))];
  const marks = [...new Set(actions.flatMap((action) => (action.destructive ? [destructiveMark(action.destructive)] : [])))];
  const hasDetail = stepLines(step).length > 1;
  return (
    <Text wrap="truncate-end">
      <Text color="cyan">{selected ? '❯ ' : '  '}</Text>
      <Text dimColor>{hasDetail ? (open ? '▾ ' : '▸ ') : '  '}</Text>
      {`${index + 1}. `}
      <Text color={statusColors[step.status]}>{statusLabel(step.status)}</Text>
      {/* The destructive marks first, so a narrow terminal never cuts them off. */}
      {marks.map((mark) => (
        <Text key={mark} color="red" bold>
          {` ${mark}`}
        </Text>
      ))}
      {` ${step.title}`}
      {sides.length > 0 && <Text dimColor>{` (on ${sides.join(' and ')})`}</Text>}
      <Text dimColor>{`: ${step.detail}`}</Text>
    </Text>
  );
}

export function StepsReview({
  heading,
  steps,
  question,
  labels,
  onSelect,
}: {
  heading: string[];
  steps: StepResult[];
  question: string;
  labels: [string, string];
  onSelect: (go: boolean) => void;
}) {
  const itemCount = steps.length + labels.length;
  const [state, update] = useKeyState(initialReview(steps.length));
  const press = (key: ReviewKey) => update((current) => reduceReview(current, key, itemCount, steps.length));
  useInput((_input, key) => {
    if (key.upArrow) press('up');
    if (key.downArrow) press('down');
    if (key.return) {
      // Enter on an answer answers; on a step it opens or closes it (reduceReview).
      const { cursor } = press('enter');
      if (cursor >= steps.length) onSelect(cursor === steps.length);
    }
  });
  return (
    <Box flexDirection="column">
      {heading.map((line, index) => (
        <Text key={index} bold={index === 0}>
          {line}
        </Text>
      ))}
      {steps.map((step, index) => (
        <Box key={step.id} flexDirection="column">
          <StepLine step={step} index={index} selected={state.cursor === index} open={state.open.includes(index)} />
          {state.open.includes(index) &&
            stepLines(step)
              .slice(1)
              .map((line, lineIndex) => (
                <Text key={lineIndex} color={line.includes('!!') ? 'red' : undefined}>
                  {`    ${line}`}
                </Text>
              ))}
        </Box>
      ))}
      <Text dimColor>↑/↓ to a step and Enter shows (or hides) its exact commands, SQL and diffs.</Text>
      <Text bold>{question}</Text>
      {labels.map((label, index) => (
        <Text key={label} color={state.cursor === steps.length + index ? 'cyan' : undefined}>
          {state.cursor === steps.length + index ? '❯ ' : '  '}
          {label}
        </Text>
      ))}
    </Box>
  );
}
