import type { Node } from '../../steps/contract.js';
import { hostAddresses } from '../facts/host.js';
import { readPrimaryStatus, readStandbyStatus, readUpstreamStatus, readWalFilesystem, type WalFilesystem } from '../status/readings.js';
import { assess, lagPoint, type PairContext, type PairStatus, type Sample } from '../status/assess.js';
import { loadHistory, recordInactiveSlots, saveHistory } from '../status/history.js';
import type { Thresholds } from '../status/thresholds.js';
import type { Emit } from './events.js';

export interface StatusJobInput {
  primary: Node;
  standby: Node;
  /** A cascade's upstream (--upstream): read too, for the standby's walsender there. */
  upstream?: Node;
  thresholds: Thresholds;
  /** The picked standby's name (its slot), and the config file's standbys: every one is judged. */
  standbyName?: string;
  listed?: readonly string[];
  /** Refresh every second until `signal` aborts; otherwise two refreshes a few seconds apart. */
  watch: boolean;
  /** Where first-seen-inactive times are kept between runs (see src/status/history.ts). */
  historyFile: string;
  emit: Emit;
  signal: AbortSignal;
}

export const refreshIntervalMs = 1000;
/** A one-shot run's two refreshes: far enough apart to measure the WAL rate. */
export const oneShotGapMs = 2000;
/** The WAL rate is taken over the last minute of refreshes. */
const rateWindowMs = 60_000;
/** What the lag chart shows. */
export const chartWindowMs = 5 * 60_000;
/** Free space is a remote command, not SQL: read on the first refresh and every 10 s. */
const diskEveryMs = 10_000;

/** Resolves after `ms`, or at once when the signal aborts. */
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * The status job: reads both servers once per refresh (one SQL statement each, in
 * parallel), judges the samples, emits a `status` event per refresh with the lag chart's
 * points, and returns the last status. Changes nothing on the servers; only the first-seen
 * times of inactive slots are written, on the workstation.
 */
export async function statusJob(input: StatusJobInput): Promise<PairStatus> {
  const { primary, standby, signal } = input;
  const readPrimary = readPrimaryStatus(primary);
  const readStandby = readStandbyStatus(standby);
  const upstream = input.upstream;
  const readUpstream = upstream ? readUpstreamStatus(upstream) : async () => undefined;
  const context: PairContext = {
    primary: { label: primary.host.label, clusterId: primary.cluster.id },
    ...(upstream ? { upstream: { label: upstream.host.label, clusterId: upstream.cluster.id } } : {}),
    standby: { label: standby.host.label, clusterId: standby.cluster.id, addresses: await hostAddresses(standby.host), name: input.standbyName },
    listed: input.listed ?? [],
    thresholds: input.thresholds,
  };
  let history = await loadHistory(input.historyFile);
  const samples: Sample[] = [];
  let disk: WalFilesystem | undefined;
  let diskReadAt = -Infinity;

  const refresh = async () => {
    const takenAt = Date.now();
    const readDisk = takenAt - diskReadAt >= diskEveryMs;
    const started = performance.now();
    const [primaryReading, standbyReading, filesystem, upstreamReading] = await Promise.all([
      readPrimary(),
      readStandby(),
      readDisk ? readWalFilesystem(primary).catch(() => undefined) : undefined,
      readUpstream(),
    ]);
    const refreshMs = performance.now() - started;
    if (readDisk) {
      diskReadAt = takenAt;
      disk = filesystem ?? disk;
    }
    samples.push({ takenAt, primary: primaryReading, standby: standbyReading, ...(upstreamReading ? { upstream: upstreamReading } : {}), refreshMs });
    while (samples[0].takenAt < takenAt - chartWindowMs) samples.shift();
  };

  const report = async (): Promise<PairStatus> => {
    const latest = samples.at(-1)!;
    if (latest.primary.ok) {
      const next = recordInactiveSlots(history, latest.primary.value.slots, latest.primary.value.at);
      if (JSON.stringify(next) !== JSON.stringify(history)) {
        history = next;
        // Only first-seen times live there: a workstation that cannot keep them still shows the rest.
        await saveHistory(input.historyFile, history).catch(() => undefined);
      }
    }
    const status = assess(
      samples.filter((sample) => sample.takenAt >= latest.takenAt - rateWindowMs),
      context,
      history,
      disk,
    );
    input.emit({ type: 'status', status, chart: samples.map((sample) => lagPoint(sample, context.standby.addresses)) });
    return status;
  };

  if (!input.watch) {
    await refresh();
    await pause(oneShotGapMs, signal);
    if (signal.aborted) throw signal.reason;
    await refresh();
    return report();
  }
  let status: PairStatus | undefined;
  while (!signal.aborted || !status) {
    const started = Date.now();
    await refresh();
    status = await report();
    await pause(Math.max(0, refreshIntervalMs - (Date.now() - started)), signal);
  }
  return status;
}
