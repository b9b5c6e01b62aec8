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
 */
export async function openSession(options: Options, io: Io): Promise<Session> {
  const pair = await connectPair(options, io);
  try {
    return { pair, facts: await discoverPair(pair, options, io), close: () => pair.close() };
  } catch (error) {
    await pair.close();
    throw error;
  }
}
