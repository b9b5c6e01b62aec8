import React, { useEffect, useReducer } from 'react';
import { Box, Text, useStdout } from 'ink';
import Spinner from 'ink-spinner';
import type { JobEvent } from '../jobs/events.js';
import { chartWindowMs, statusJob } from '../jobs/status.js';
import type { Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import type { LagPoint, PairStatus } from '../status/assess.js';
import { historyPath } from '../status/history.js';
import { lagChart, statusLines } from '../status/render.js';
import { parseThresholds } from '../status/thresholds.js';
import { toNode } from '../../steps/contract.js';
import { ErrorBanner } from './components.js';

/** What the status screen shows: the last refresh the job reported, or why it stopped. */
export interface StatusViewState {
  status?: PairStatus;
  chart: LagPoint[];
  /** The workstation's clock at that refresh: the chart's right edge. */
  at?: number;
  error?: unknown;
}

export type StatusViewAction = JobEvent | { type: 'failed'; error: unknown };

export function reduceStatusView(state: StatusViewState, action: StatusViewAction): StatusViewState {
  if (action.type === 'status') return { status: action.status, chart: action.chart, at: action.chart.at(-1)?.at ?? state.at };
  if (action.type === 'failed') return { ...state, error: action.error };
  return state;
}

export interface StatusScreenProps {
  pair: Pair;
  facts: PairFacts;
  options: Options;
  signal: AbortSignal;
  /** Lets the app wait for the job before it closes the connections. */
  track: <T>(job: Promise<T>) => Promise<T>;
}

// Lines the operator must not miss: what needs attention, a paused replay.
const alarming = (line: string) => /^\s+✗|REPLAY PAUSED|^Result: needs attention/.test(line);

/**
 * "Watch replication status": the status job refreshing every second until the app stops
 * it; this view renders its events (the status text and the lag chart) and nothing else.
 */
export function StatusScreen({ pair, facts, options, signal, track }: StatusScreenProps) {
  const [view, dispatch] = useReducer(reduceStatusView, { chart: [] });
  const { stdout } = useStdout();
  useEffect(() => {
    try {
      track(
        statusJob({
          primary: toNode(pair.primary, facts.primary),
          standby: toNode(pair.standby, facts.standby),
          thresholds: parseThresholds(options),
          standbyName: options.slot,
          listed: options.standbyNames,
          watch: true,
          historyFile: historyPath(pair.primary.label, facts.primary.cluster?.ref.id ?? ''),
          emit: dispatch,
          signal,
        }),
      ).catch((error) => dispatch({ type: 'failed', error }));
    } catch (error) {
      dispatch({ type: 'failed', error });
    }
  }, []);

  if (view.error) return <ErrorBanner error={view.error} />;
  if (!view.status) {
    return (
      <Text>
        <Spinner /> Reading both servers…
      </Text>
    );
  }
  const width = Math.max(20, (stdout.columns ?? 80) - 2);
  return (
    <Box flexDirection="column">
      {statusLines(view.status).map((line, index) => (
        <Text key={index} color={alarming(line) ? 'red' : undefined} bold={alarming(line)}>
          {line}
        </Text>
      ))}
      <Box flexDirection="column" marginTop={1}>
        {lagChart(view.chart, view.at ?? 0, width, 4, chartWindowMs).map((line, index) => (
          <Text key={index} color={index === 0 ? undefined : 'cyan'}>
            {line}
          </Text>
        ))}
      </Box>
      <Text dimColor>Refreshes every second. Esc or Ctrl-C quits.</Text>
    </Box>
  );
}
