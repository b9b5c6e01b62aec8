import React, { useState } from 'react';
import { Box, Text, useInput } from 'ink';
import type { HostFacts } from '../facts/host.js';
import { formatBytes, hostReport } from '../report.js';
import type { PairFacts } from '../session.js';
import { blockingProblems } from '../setup/blockers.js';

/** One row of the side-by-side summary: what, then the primary's and the standby's value. */
type Row = [label: string, primary: string, standby: string];

function state(facts: HostFacts): string {
  const cluster = facts.cluster;
  if (!cluster) return 'no cluster chosen';
  if (!cluster.ref.running) return 'stopped';
  return cluster.inRecovery ? 'running, in recovery (a standby)' : 'running, not in recovery';
}

/** The few facts an operator checks first, for both hosts at once. */
export function summaryRows({ primary, standby }: PairFacts): Row[] {
  const row = (label: string, value: (facts: HostFacts) => string): Row => [label, value(primary), value(standby)];
  return [
    row('host', (facts) => facts.label),
    row('cluster', ({ cluster }) => (cluster ? `${cluster.ref.id}, port ${cluster.ref.port}` : 'none')),
    // "15.20 (Debian 15.20-0+deb12u1)": the packaging part is in the full detail.
    row('version', ({ cluster }) => `PostgreSQL ${cluster?.serverVersion?.split(' ')[0] ?? cluster?.ref.major ?? '?'}`),
    row('state', state),
    row('data size', ({ cluster }) => formatBytes(cluster?.dataSizeBytes)),
    row('free disk', ({ cluster }) => formatBytes(cluster?.freeBytes)),
  ];
}

const pad = (text: string, width: number) => text.padEnd(width);

/**
 * The first screen: both hosts side by side, blocking problems in red, and the full inspect
 * report one key away (d).
 */
export function Overview({ facts }: { facts: PairFacts }) {
  const [detail, setDetail] = useState(false);
  useInput((input) => {
    if (input === 'd') setDetail((shown) => !shown);
  });
  const rows = summaryRows(facts);
  const labelWidth = Math.max(...rows.map(([label]) => label.length)) + 2;
  const primaryWidth = Math.max('primary'.length, ...rows.map(([, primary]) => primary.length)) + 3;
  const problems = blockingProblems(facts);
  return (
    <Box flexDirection="column">
      {detail && [...hostReport(facts.primary), '', ...hostReport(facts.standby), ''].map((line, index) => <Text key={index}>{line}</Text>)}
      <Text bold>{`${pad('', labelWidth)}${pad('primary', primaryWidth)}standby`}</Text>
      {rows.map(([label, primary, standby]) => (
        <Text key={label}>
          <Text dimColor>{pad(label, labelWidth)}</Text>
          {`${pad(primary, primaryWidth)}${standby}`}
        </Text>
      ))}
      {problems.length === 0 && <Text color="green">No blocking problems found.</Text>}
      {problems.map((problem) => (
        <Text key={problem} color="red" bold>
          ✗ {problem}
        </Text>
      ))}
      <Text dimColor>{detail ? 'Press d to hide the full detail.' : 'Press d for the full detail of both hosts (OS, files, settings and where they are set).'}</Text>
    </Box>
  );
}
