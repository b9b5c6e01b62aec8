import React, { useEffect, useMemo, useState } from 'react';
import { Box, Text, useApp, useInput } from 'ink';
import Spinner from 'ink-spinner';
import type { Options } from '../options.js';
import { connectPair, discoverPair, roles, type Pair, type PairFacts, type Role } from '../session.js';
import { hostReport } from '../report.js';
import { ErrorBanner, Menu, Prompt } from './components.js';
import { inkIo, type PendingQuestion } from './ink-io.js';

type Screen =
  | { kind: 'ask-host'; role: Role }
  | { kind: 'connecting' }
  | { kind: 'overview'; pair: Pair; facts: PairFacts }
  | { kind: 'failed'; error: unknown };

/** The interactive wizard: hosts → connect (host keys asked here) → what was found → next action. */
export function App({ options, onExit }: { options: Options; onExit: (code: number) => void }) {
  const { exit } = useApp();
  const [targets, setTargets] = useState({ primary: options.primary, standby: options.standby });
  const missing = roles.find((role) => !targets[role]);
  const [screen, setScreen] = useState<Screen>(missing ? { kind: 'ask-host', role: missing } : { kind: 'connecting' });
  const [question, setQuestion] = useState<PendingQuestion>();
  const io = useMemo(() => inkIo(setQuestion), []);

  const finish = (code: number) => {
    if (screen.kind === 'overview') void screen.pair.close();
    onExit(code);
    exit();
  };

  useInput((input, key) => {
    if (key.escape || (key.ctrl && input === 'c')) finish(130);
    if (screen.kind === 'failed' && key.return) finish(1);
  });

  useEffect(() => {
    if (screen.kind !== 'connecting') return;
    let cancelled = false;
    (async () => {
      const runOptions = { ...options, ...targets };
      const pair = await connectPair(runOptions, io);
      try {
        const facts = await discoverPair(pair, runOptions, io);
        if (cancelled) await pair.close();
        else setScreen({ kind: 'overview', pair, facts });
      } catch (error) {
        await pair.close();
        throw error;
      }
    })().catch((error: unknown) => !cancelled && setScreen({ kind: 'failed', error }));
    return () => {
      cancelled = true;
    };
  }, [screen.kind]);

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
      {question && (
        <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1}>
          {question.details.map((line) => (
            <Text key={line}>{line}</Text>
          ))}
          <Menu title={question.title} items={question.choices} onSelect={question.answer} />
        </Box>
      )}
      {screen.kind === 'overview' && (
        <Box flexDirection="column">
          {[...hostReport(screen.facts.primary), '', ...hostReport(screen.facts.standby)].map((line, index) => (
            <Text key={index}>{line}</Text>
          ))}
          <Menu title="What next?" items={[{ label: 'Quit', value: 'quit' }]} onSelect={() => finish(0)} />
        </Box>
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
