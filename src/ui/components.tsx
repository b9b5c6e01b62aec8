import React, { useCallback, useReducer, useRef, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import SelectInput from 'ink-select-input';
import TextInput from 'ink-text-input';
import { WizardError } from '../errors.js';
import { type Field, typeInto } from './text-field.js';

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
  /** Shown below the menu while the cursor is on this entry. */
  detail?: string;
}

// Each entry keeps one line however narrow the terminal; the pointer keeps its space beside it.
const MenuPointer = ({ isSelected = false }: { isSelected?: boolean }) => (
  <Box marginRight={1} flexShrink={0}>
    <Text color="blue">{isSelected ? '❯' : ' '}</Text>
  </Box>
);
const MenuEntry = ({ isSelected = false, label }: { isSelected?: boolean; label: string }) => (
  <Text color={isSelected ? 'blue' : undefined} wrap="truncate-end">
    {label}
  </Text>
);

/** ink-select-input draws the list, one line an entry, the detail of the one under the cursor below it; the keys are read here, in order (see useKeyState). */
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
  const detail = items[Math.min(cursor, last)]?.detail;
  return (
    <Box flexDirection="column">
      <Text bold>{title}</Text>
      <SelectInput
        key={cursor}
        isFocused={false}
        initialIndex={Math.min(cursor, last)}
        indicatorComponent={MenuPointer}
        itemComponent={MenuEntry}
        items={items.map((item, index) => ({ key: String(index), label: item.label, value: index }))}
      />
      {detail && <Text dimColor>{detail}</Text>}
    </Box>
  );
}

/**
 * A text field; `problem` (when given) keeps the operator on it with the reason in red. Keys are
 * read here into the field's state (useKeyState, see typeInto); ink-text-input draws the text.
 */
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
  const [field, update] = useKeyState<Field>({ value: initial, cursor: initial.length });
  const [error, setError] = useState<string>();
  const submit = (text: string) => {
    const reason = problem?.(text.trim());
    setError(reason);
    if (!reason) onSubmit(text);
  };
  useInput((input, key) => {
    if (key.upArrow || key.downArrow || key.tab || key.escape || key.pageUp || key.pageDown) return;
    const move = (to: (field: Field) => number) => update((current) => ({ ...current, cursor: Math.max(0, Math.min(current.value.length, to(current))) }));
    if (key.leftArrow) move(({ cursor }) => cursor - 1);
    else if (key.rightArrow) move(({ cursor }) => cursor + 1);
    else if (key.home) move(() => 0);
    else if (key.end) move(({ value }) => value.length);
    else {
      // One key Ink has named stands for its byte; anything else is typed text.
      const text = key.return ? '\r' : key.backspace || key.delete ? '\x7f' : key.ctrl ? String.fromCharCode(input.charCodeAt(0) - 96) : input;
      let submitted = false;
      update((current) => {
        const typed = typeInto(current, text);
        submitted = typed.submitted;
        return { value: typed.value, cursor: typed.cursor };
      });
      if (submitted) submit(update((current) => current).value);
    }
  });
  const character = field.value[field.cursor] ?? ' ';
  return (
    <Box flexDirection="column">
      <Box>
        <Text bold>{label} </Text>
        <TextInput value={field.value.slice(0, field.cursor)} onChange={() => undefined} focus={false} mask={mask} />
        <Text inverse>{mask && field.cursor < field.value.length ? mask : character}</Text>
        <TextInput value={field.value.slice(field.cursor + 1)} onChange={() => undefined} focus={false} mask={mask} />
      </Box>
      {error && <Text color="red">{error}</Text>}
    </Box>
  );
}
