import React, { useEffect, useState } from 'react';
import { Box, Text } from 'ink';
import Spinner from 'ink-spinner';
import { syncJob, syncPlanLines, syncResultLines, type SyncOutcome } from '../jobs/sync.js';
import { ErrorBanner, Menu } from './components.js';
import type { JobScreenProps } from './screens.js';

type View = { kind: 'working'; plan?: SyncOutcome } | { kind: 'done'; outcome: SyncOutcome } | { kind: 'failed'; error: unknown };

const Lines = ({ lines }: { lines: string[] }) => (
  <Box flexDirection="column">
    {lines.map((line, index) => (
      <Text key={index}>{line}</Text>
    ))}
  </Box>
);

/**
 * "Synchronous replication": the sync job (the same as `pgrepl-wizard sync`) asks its questions
 * (FIRST or ANY, how many, synchronous_commit, each choice explained) through the question
 * box; this view shows its plan before the confirmation and its result.
 */
export function SyncScreen({ pair, facts, options, io, asking, signal, track, onExit }: JobScreenProps) {
  const [view, setView] = useState<View>({ kind: 'working' });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    setView({ kind: 'working' });
    track(syncJob({ host: pair.primary, facts: facts.primary, options: { ...options, plan: false }, io, signal, showPlan: (plan) => setView({ kind: 'working', plan }) }))
      .then((outcome) => setView({ kind: 'done', outcome }))
      .catch((error) => setView({ kind: 'failed', error }));
  }, [attempt]);

  const next = (
    <Menu
      title="What next?"
      items={[
        { label: 'Change synchronous replication again', value: true },
        { label: 'Quit', value: false },
      ]}
      onSelect={(again) => (again ? setAttempt(attempt + 1) : onExit(view.kind === 'failed' ? 1 : 0))}
    />
  );
  switch (view.kind) {
    case 'working':
      if (view.plan) return <Lines lines={syncPlanLines(view.plan, pair.primary.label)} />;
      return asking ? null : (
        <Text>
          <Spinner /> Reading the primary's standbys and synchronous_standby_names…
        </Text>
      );
    case 'done':
      return (
        <Box flexDirection="column">
          <Lines lines={syncResultLines(view.outcome)} />
          {next}
        </Box>
      );
    case 'failed':
      return (
        <Box flexDirection="column">
          <ErrorBanner error={view.error} />
          {next}
        </Box>
      );
  }
}
