import React, { useState } from 'react';
import { Box, Text } from 'ink';
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

export interface MenuItem<T> {
  label: string;
  value: T;
}

export function Menu<T>({ title, items, onSelect }: { title: string; items: MenuItem<T>[]; onSelect: (value: T) => void }) {
  return (
    <Box flexDirection="column">
      <Text bold>{title}</Text>
      <SelectInput
        items={items.map((item, index) => ({ key: String(index), label: item.label, value: index }))}
        onSelect={(item) => onSelect(items[item.value].value)}
      />
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
