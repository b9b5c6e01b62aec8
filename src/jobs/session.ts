import type { HostFacts } from '../facts/host.js';
import type { Io } from '../io.js';
import type { Options } from '../options.js';
import { connectPair, discoverPair, type Pair, type PairFacts } from '../session.js';

/** Both hosts connected and discovered: what every job starts from. */
export interface Session {
  pair: Pair;
  facts: PairFacts;
  /** Discovers both hosts again on the open connections, e.g. after a repair changed them. */
  reread(): Promise<void>;
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
    const session: Session = {
      pair,
      facts: await discoverPair(pair, options, io),
      reread: async () => {
        // The clusters chosen at the start, by data directory: a host with several is not asked again.
        const chosen = (facts?: HostFacts) => facts?.cluster?.ref.dataDirectory;
        const { primary, standby, upstream } = session.facts;
        session.facts = await discoverPair(
          pair,
          { ...options, primaryCluster: chosen(primary) ?? options.primaryCluster, standbyCluster: chosen(standby) ?? options.standbyCluster, upstreamCluster: chosen(upstream) ?? options.upstreamCluster },
          io,
        );
      },
      close: () => pair.close(),
    };
    return session;
  } catch (error) {
    await pair.close();
    throw error;
  }
}
