import React, { useCallback, useReducer, useRef, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import SelectInput from 'ink-select-input';
import TextInput from 'ink-text-input';
import { WizardError } from '../errors.js';

/** One banner for every failure: what, where, what to do. */
export function ErrorBanner({ error }: { error: unknown }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="red" paddingX={1}>
      <Text color="red" bold>
        {message}
      </Text>
      {error instanceof WizardError && (
        <>
          <Text>where: {error.where}</Text>
          <Text>fix: {error.fix}</Text>
        </>
      )}
    </Box>
  );
}

/**
 * State that keys move, read by the very next key: keys that arrive together (a slow link
 * batches them) all reach the input handler before React renders again, so a handler reading
 * React state sees it as it was before all of them (↓ ↓ Enter would choose the first entry).
 * `update` applies a change at once and returns the new state; the view re-renders after.
 */
export function useKeyState<S>(initial: S): [S, (change: (current: S) => S) => S] {
  const current = useRef(initial);
  const [, render] = useReducer((count: number) => count + 1, 0);
  const update = useCallback((change: (state: S) => S) => {
    current.current = change(current.current);
    render();
    return current.current;
  }, []);
  return [current.current, update];
}

export interface MenuItem<T> {
  label: string;
  value: T;
}

/** ink-select-input draws the list; the keys are read here, in order (see useKeyState). */
export function Menu<T>({ title, items, onSelect }: { title: string; items: MenuItem<T>[]; onSelect: (value: T) => void }) {
  const [cursor, update] = useKeyState(0);
  const last = items.length - 1;
  useInput((input, key) => {
    if (key.upArrow || input === 'k') update((index) => (index + items.length - 1) % items.length);
    if (key.downArrow || input === 'j') update((index) => (index + 1) % items.length);
    // As ink-select-input: a digit chooses that entry.
    const digit = /^[1-9]$/.test(input) ? Number(input) - 1 : undefined;
    if (digit !== undefined && digit < items.length) onSelect(items[digit].value);
    if (key.return) onSelect(items[Math.min(update((index) => index), last)].value);
  });
  return (
    <Box flexDirection="column">
      <Text bold>{title}</Text>
      <SelectInput key={cursor} isFocused={false} initialIndex={Math.min(cursor, last)} items={items.map((item, index) => ({ key: String(index), label: item.label, value: index }))} />
    </Box>
  );
}

/** A text field; `problem` (when given) keeps the operator on it with the reason in red. */
export function Prompt({
  label,
  initial = '',
  mask,
  problem,
  onSubmit,
}: {
  label: string;
  initial?: string;
  mask?: string;
  problem?: (value: string) => string | undefined;
  onSubmit: (value: string) => void;
}) {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string>();
  const submit = (text: string) => {
    const reason = problem?.(text.trim());
    setError(reason);
    if (!reason) onSubmit(text);
  };
  return (
    <Box flexDirection="column">
      <Box>
        <Text bold>{label} </Text>
        <TextInput value={value} onChange={setValue} onSubmit={submit} mask={mask} />
      </Box>
      {error && <Text color="red">{error}</Text>}
    </Box>
  );
}
