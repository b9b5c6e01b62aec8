import type { Io } from '../io.js';
import type { Options } from '../options.js';
import { connectPair, discoverPair, type Pair, type PairFacts } from '../session.js';

/** Both hosts connected and discovered: what every job starts from. */
export interface Session {
  pair: Pair;
  facts: PairFacts;
  close(): Promise<void>;
}

/**
 * How every run begins: both hosts connected (host keys verified), then discovered, a host
 * with several clusters asking which one. When discovery fails the connections are closed.
 * When `interruption` aborts (Ctrl-C, SIGTERM, SIGHUP), what runs on any of the hosts is ended there.
 */
export async function openSession(options: Options, io: Io, interruption?: AbortSignal): Promise<Session> {
  const pair = await connectPair(options, io);
  if (interruption) [pair.primary, pair.standby, pair.upstream].forEach((host) => host?.endCommandsOn?.(interruption));
  try {
    return { pair, facts: await discoverPair(pair, options, io), close: () => pair.close() };
  } catch (error) {
    await pair.close();
    throw error;
  }
}
