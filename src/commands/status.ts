import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { toNode } from '../../steps/contract.js';
import type { JobEvent } from '../jobs/events.js';
import { openSession } from '../jobs/session.js';
import { chartWindowMs, statusJob } from '../jobs/status.js';
import { historyPath } from '../status/history.js';
import { lagChart, statusLines } from '../status/render.js';
import { parseThresholds } from '../status/thresholds.js';
import { interruptionOn } from './interruption.js';

/** Clears a terminal and puts the cursor home, so each refresh of --watch replaces the last. */
const clearScreen = '\x1b[H\x1b[2J';

/**
 * `status`: how the pair stands, on stdout (text, or one JSON document), exit 1 when it needs
 * attention. `--watch` refreshes every second until Ctrl-C (text: the screen redrawn with
 * the lag chart; --json: one document per line) and exits with the last refresh's verdict.
 */
export async function statusCommand(options: Options): Promise<number> {
  const thresholds = parseThresholds(options);
  const io = terminalIo();
  const interruption = interruptionOn(['SIGINT', 'SIGTERM'], 'status', 'run status again', 130);
  const { pair, facts, close } = await openSession(options, io);
  try {
    const primary = toNode(pair.primary, facts.primary);
    const standby = toNode(pair.standby, facts.standby);
    const terminal = Boolean(process.stdout.isTTY);
    const show = (event: JobEvent) => {
      if (event.type !== 'status' || !options.watch) return;
      if (options.json) {
        console.log(JSON.stringify(event.status));
        return;
      }
      const chart = lagChart(event.chart, Date.now(), (process.stdout.columns ?? 80) - 2, 4, chartWindowMs);
      process.stdout.write(`${terminal ? clearScreen : '\n'}${[...statusLines(event.status), '', ...chart].join('\n')}\n`);
    };
    const status = await statusJob({
      primary,
      standby,
      ...(pair.upstream ? { upstream: toNode(pair.upstream, facts.upstream!) } : {}),
      thresholds,
      standbyName: options.slot,
      listed: options.standbyNames,
      watch: Boolean(options.watch),
      historyFile: historyPath(pair.primary.label, primary.cluster.id),
      emit: show,
      signal: interruption.signal,
    });
    if (!options.watch) console.log(options.json ? JSON.stringify(status, null, 2) : statusLines(status).join('\n'));
    return status.healthy ? 0 : 1;
  } finally {
    interruption.stopListening();
    await close();
  }
}
