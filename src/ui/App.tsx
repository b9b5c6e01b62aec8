import React, { useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { Box, Text, useApp, useInput } from 'ink';
import Spinner from 'ink-spinner';
import { setupJob } from '../jobs/setup.js';
import type { Options } from '../options.js';
import { openSession, type Session } from '../jobs/session.js';
import { roles, type Role } from '../session.js';
import { slotNameFor } from '../setup/prepare.js';
import { closingText } from '../setup/render.js';
import type { SetupOutcome } from '../setup/setup.js';
import { ErrorBanner, Menu, Prompt } from './components.js';
import { inkIo, type PendingQuestion } from './ink-io.js';
import { emptyRun, reduceRun } from './run-state.js';
import { Overview } from './overview.js';
import { ChoicesForm, DoctorFlow, QuestionBox, RunView, type SetupChoices } from './screens.js';
import { StatusScreen } from './status.js';
import { SyncScreen } from './sync.js';

type Screen =
  | { kind: 'ask-host'; role: Role }
  | { kind: 'connecting' }
  | { kind: 'overview' }
  | { kind: 'rereading' }
  | { kind: 'choices' }
  | { kind: 'setup'; options: Options }
  | { kind: 'result'; outcome: SetupOutcome }
  | { kind: 'doctor' }
  | { kind: 'status' }
  | { kind: 'sync' }
  | { kind: 'failed'; error: unknown };

/**
 * The interactive wizard. It renders the jobs' events and answers their questions; the
 * workflow itself is the jobs (src/jobs), the same ones the headless commands run.
 */
export function App({ options, onExit }: { options: Options; onExit: (code: number) => void }) {
  const { exit } = useApp();
  const [targets, setTargets] = useState({ primary: options.primary, standby: options.standby });
  const missing = roles.find((role) => !targets[role]);
  const [screen, setScreen] = useState<Screen>(missing ? { kind: 'ask-host', role: missing } : { kind: 'connecting' });
  const [question, setQuestion] = useState<PendingQuestion>();
  const [run, dispatch] = useReducer(reduceRun, emptyRun);
  const io = useMemo(() => inkIo(setQuestion), []);
  const session = useRef<Session>(undefined);
  const abort = useRef(new AbortController());

  const work = useRef<Promise<unknown>>(Promise.resolve());
  // Whether a job is in flight: only then is there a step to wait for on the way out.
  const busy = useRef(false);
  /** Marks a job in flight; what is chained on the result runs once it no longer is. */
  const track = <T,>(promise: Promise<T>): Promise<T> => {
    busy.current = true;
    const settled = promise.finally(() => (busy.current = false));
    work.current = settled.catch(() => undefined);
    return settled;
  };
  const finishing = useRef(false);
  const [stopping, setStopping] = useState(false);
  const finish = (code: number) => {
    if (finishing.current) return;
    finishing.current = true;
    if (busy.current) setStopping(true);
    const reason = new Error('stopped by the operator');
    abort.current.abort(reason);
    io.cancel(reason);
    // An aborted step still cleans up over SSH (e.g. removes a half-made clone): wait for it.
    void work.current.finally(async () => {
      await session.current?.close();
      onExit(code);
      exit();
    });
  };
  const fail = (error: unknown) => setScreen({ kind: 'failed', error });

  useInput((input, key) => {
    // Esc on the Troubleshoot or Synchronous replication screen once its job is done (nothing to stop): back to the
    // menu, whose summary is read again (a repair may have changed both hosts).
    if (key.escape && (screen.kind === 'doctor' || screen.kind === 'sync') && !busy.current) return setScreen({ kind: 'rereading' });
    // Esc while the setup choices are asked (nothing runs yet): back to the menu.
    if (key.escape && screen.kind === 'choices') return setScreen({ kind: 'overview' });
    // Esc/Ctrl-C: stop cleanly; a running step is aborted and leaves the hosts as they were.
    if (key.escape || (key.ctrl && input === 'c')) finish(130);
    if ((screen.kind === 'failed' || screen.kind === 'result') && key.return) finish(screen.kind === 'failed' ? 1 : screen.outcome.ok ? 0 : 1);
  });

  useEffect(() => {
    const current = screen;
    if (current.kind === 'connecting') {
      track(
        (async () => {
          session.current = await openSession({ ...options, ...targets }, io, abort.current.signal);
          setScreen({ kind: 'overview' });
        })().catch(fail),
      );
    }
    if (current.kind === 'rereading') {
      track(
        session
          .current!.reread()
          .then(() => setScreen({ kind: 'overview' }))
          .catch(fail),
      );
    }
    if (current.kind === 'setup') {
      const { pair, facts } = session.current!;
      track(setupJob({ pair, facts, options: current.options, io, emit: dispatch, signal: abort.current.signal, review: true }))
        // Declined at the review: nothing was changed.
        .then((outcome) => (outcome ? setScreen({ kind: 'result', outcome }) : finish(0)))
        .catch(fail);
    }
  }, [screen]);

  const defaults: SetupChoices = {
    role: options.role ?? 'repl',
    slot: options.slot ?? (session.current ? slotNameFor(session.current.pair.standby.address) : ''),
    archiveDir: options.archiveDir,
    checkpoint: options.checkpoint === 'spread' ? 'spread' : 'fast',
    discardOldData: Boolean(options.discardOldData),
  };

  return (
    <Box flexDirection="column">
      <Text bold color="cyan">
        pgrepl-wizard: PostgreSQL streaming replication
      </Text>
      {screen.kind === 'ask-host' && (
        <Prompt
          key={screen.role}
          label={`${screen.role} host ([user@]host[:port]):`}
          onSubmit={(value) => {
            if (!value.trim()) return;
            const next = { ...targets, [screen.role]: value.trim() };
            setTargets(next);
            const stillMissing = roles.find((role) => !next[role]);
            setScreen(stillMissing ? { kind: 'ask-host', role: stillMissing } : { kind: 'connecting' });
          }}
        />
      )}
      {screen.kind === 'connecting' && !question && (
        <Text>
          <Spinner /> Connecting to {targets.primary} and {targets.standby} and looking around…
        </Text>
      )}
      {screen.kind === 'overview' && session.current && (
        <Box flexDirection="column">
          <Overview facts={session.current.facts} />
          <Menu
            title="What next?"
            items={[
              // Each entry's value is the screen it opens.
              { label: 'Set up a standby', value: 'choices' as const },
              { label: 'Troubleshoot a standby', value: 'doctor' as const },
              { label: 'Watch replication status', value: 'status' as const },
              { label: 'Synchronous replication (FIRST n / ANY n of the standbys, or off)', value: 'sync' as const },
              { label: 'Quit', value: 'quit' as const },
            ]}
            onSelect={(choice) => (choice === 'quit' ? finish(0) : setScreen({ kind: choice }))}
          />
        </Box>
      )}
      {screen.kind === 'choices' && (
        <ChoicesForm defaults={defaults} onDone={(choices) => setScreen({ kind: 'setup', options: { ...options, ...targets, ...choices, plan: false } })} />
      )}
      {screen.kind === 'rereading' && !question && (
        <Text>
          <Spinner /> Reading both hosts again…
        </Text>
      )}
      {screen.kind === 'setup' && run.phase === 'planning' && !question && (
        <Text>
          <Spinner /> Checking both hosts and building the plan (nothing is changed yet)…
        </Text>
      )}
      {screen.kind === 'doctor' && session.current && (
        <DoctorFlow pair={session.current.pair} facts={session.current.facts} options={{ ...options, ...targets }} io={io} asking={Boolean(question)} signal={abort.current.signal} track={track} onExit={finish} />
      )}
      {screen.kind === 'status' && session.current && !stopping && (
        <StatusScreen pair={session.current.pair} facts={session.current.facts} options={{ ...options, ...targets }} signal={abort.current.signal} track={track} />
      )}
      {screen.kind === 'sync' && session.current && (
        <SyncScreen pair={session.current.pair} facts={session.current.facts} options={{ ...options, ...targets }} io={io} asking={Boolean(question)} signal={abort.current.signal} track={track} onExit={finish} />
      )}
      {((screen.kind === 'setup' && run.phase === 'applying') || screen.kind === 'result') && <RunView run={run} />}
      {screen.kind === 'result' && (
        <Box flexDirection="column">
          {closingText(screen.outcome)
            .split('\n')
            .map((line, index) => (
              <Text key={index}>{line}</Text>
            ))}
          <Text dimColor>Press Enter to exit.</Text>
        </Box>
      )}
      {question && !stopping && <QuestionBox question={question} />}
      {stopping && (
        <Text color="yellow">
          <Spinner /> Stopping: letting the current step clean up…
        </Text>
      )}
      {screen.kind === 'failed' && (
        <Box flexDirection="column">
          <ErrorBanner error={screen.error} />
          <Text dimColor>Press Enter to exit.</Text>
        </Box>
      )}
    </Box>
  );
}
