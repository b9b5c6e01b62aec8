/**
 * pg_basebackup -P output, read from its stderr while it runs. The progress line is
 * `%*s/%s kB (%d%%), %d/%d tablespace(s)` (with -v a file name in parentheses follows);
 * it ends in "\r" on a terminal and "\n" otherwise, so lines are split on both.
 */

export interface BasebackupProgress {
  doneKb: number;
  /** pg_basebackup's estimate; it grows when the copy outruns it. */
  totalKb: number;
  percent: number;
  tablespacesDone: number;
  tablespacesTotal: number;
}

const progressPattern = /^\s*(\d+)\/(\d+) kB \((\d+)%\), (\d+)\/(\d+) tablespaces?/;

export function parseProgressLine(line: string): BasebackupProgress | undefined {
  const match = progressPattern.exec(line);
  if (!match) return undefined;
  const [doneKb, totalKb, percent, tablespacesDone, tablespacesTotal] = match.slice(1).map(Number);
  return { doneKb, totalKb, percent, tablespacesDone, tablespacesTotal };
}

/** Turns stderr chunks into whole lines, whatever the chunk boundaries. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      const parts = (pending + chunk).split(/\r\n|\r|\n/);
      pending = parts.pop() ?? '';
      // A "\r\n" split across two chunks leaves an empty line: not a line of output.
      for (const line of parts) if (line !== '') onLine(line);
    },
    end() {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}

export interface Rate {
  rateKbps?: number;
  etaSeconds?: number;
}

/**
 * Transfer rate over a sliding window of recent updates, and the time left at that rate.
 * Returns nothing until two updates lie far enough apart to measure.
 */
export function progressMeter(windowMs = 10_000): (doneKb: number, totalKb: number, nowMs: number) => Rate {
  const samples: { atMs: number; doneKb: number }[] = [];
  return (doneKb, totalKb, nowMs) => {
    samples.push({ atMs: nowMs, doneKb });
    while (samples.length > 2 && nowMs - samples[1].atMs >= windowMs) samples.shift();
    const first = samples[0];
    const seconds = (nowMs - first.atMs) / 1000;
    if (seconds <= 0) return {};
    const rateKbps = Math.round((doneKb - first.doneKb) / seconds);
    if (rateKbps <= 0) return { rateKbps: 0 };
    return { rateKbps, etaSeconds: Math.max(0, Math.round((totalKb - doneKb) / rateKbps)) };
  };
}
