import { describe, expect, it } from 'vitest';
import { lineSplitter, parseProgressLine, progressMeter } from '../../steps/lib/basebackup-progress.js';

// pg_basebackup 15 -P -v stderr from the lab standby cloning the lab primary (no terminal: "\n").
const labPipeSample =
  'pg_basebackup: initiating base backup, waiting for checkpoint to complete\npg_basebackup: checkpoint completed\npg_basebackup: write-ahead log start point: 0/2000028 on timeline 1\npg_basebackup: starting background WAL receiver\n 3445/30753 kB (11%), 0/1 tablespace (/tmp/bbprobe/base/5/2838           )\n29387/30753 kB (95%), 0/1 tablespace (/tmp/bbprobe/base/1/1255           )\n30764/30764 kB (100%), 0/1 tablespace (/tmp/bbprobe/global/pg_control     )\n30764/30764 kB (100%), 1/1 tablespace                                         \npg_basebackup: write-ahead log end point: 0/2000100\npg_basebackup: waiting for background process to finish streaming ...\npg_basebackup: syncing data to disk ...\npg_basebackup: renaming backup_manifest.tmp to backup_manifest\npg_basebackup: base backup completed\n';

// pg_basebackup 15 -P -v on a terminal (captured with script(1)), cluster with one extra
// tablespace: progress lines end in "\r", the terminal turns the other "\n" into "\r\n".
const ttyTablespacesSample =
  'pg_basebackup: initiating base backup, waiting for checkpoint to complete\r\npg_basebackup: checkpoint completed\r\npg_basebackup: write-ahead log start point: 0/11000028 on timeline 1\r\npg_basebackup: starting background WAL receiver\r\npg_basebackup: created temporary replication slot "pg_basebackup_24599"\r\n 61450/247079 kB (24%), 0/2 tablespaces (.../me/ts1m/PG_15_202209061/5/16407)\r 70603/247079 kB (28%), 0/2 tablespaces (.../me/ts1m/PG_15_202209061/5/16407)\r 70603/247079 kB (28%), 1/2 tablespaces (.../me/ts1m/PG_15_202209061/5/16407)\r134615/247079 kB (54%), 1/2 tablespaces (/tmp/me/bb2/base/5/16396           )\r196311/247079 kB (79%), 1/2 tablespaces (/tmp/me/bb2/base/5/16396           )\r247091/247091 kB (100%), 1/2 tablespaces (/tmp/me/bb2/global/pg_control      )\r247091/247091 kB (100%), 2/2 tablespaces                                         \r\npg_basebackup: write-ahead log end point: 0/11000138\r\npg_basebackup: waiting for background process to finish streaming ...\r\npg_basebackup: syncing data to disk ...\r\npg_basebackup: renaming backup_manifest.tmp to backup_manifest\r\npg_basebackup: base backup completed\r\n';

function linesOf(chunks: string[]): string[] {
  const lines: string[] = [];
  const splitter = lineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

const progressOf = (sample: string) => linesOf([sample]).map(parseProgressLine).filter((p) => p !== undefined);

describe('pg_basebackup progress', () => {
  it('reads every progress line of a piped run, up to the final 100% line', () => {
    expect(progressOf(labPipeSample)).toEqual([
      { doneKb: 3445, totalKb: 30753, percent: 11, tablespacesDone: 0, tablespacesTotal: 1 },
      { doneKb: 29387, totalKb: 30753, percent: 95, tablespacesDone: 0, tablespacesTotal: 1 },
      { doneKb: 30764, totalKb: 30764, percent: 100, tablespacesDone: 0, tablespacesTotal: 1 },
      { doneKb: 30764, totalKb: 30764, percent: 100, tablespacesDone: 1, tablespacesTotal: 1 },
    ]);
  });

  it('splits "\\r"-terminated terminal progress and reads "tablespaces" in the plural', () => {
    const progress = progressOf(ttyTablespacesSample);
    expect(progress.map((p) => p.percent)).toEqual([24, 28, 28, 54, 79, 100, 100]);
    expect(progress.at(-1)).toEqual({ doneKb: 247091, totalKb: 247091, percent: 100, tablespacesDone: 2, tablespacesTotal: 2 });
  });

  it('gives the same lines whatever the chunk boundaries, even a "\\r\\n" cut in two', () => {
    const whole = linesOf([ttyTablespacesSample]);
    expect(linesOf([...ttyTablespacesSample])).toEqual(whole);
    const cut = ttyTablespacesSample.indexOf('\r\n') + 1;
    expect(linesOf([ttyTablespacesSample.slice(0, cut), ttyTablespacesSample.slice(cut)])).toEqual(whole);
    expect(whole).toContain('pg_basebackup: base backup completed');
  });

  it('leaves pg_basebackup -v messages to the caller', () => {
    expect(parseProgressLine('pg_basebackup: write-ahead log start point: 0/2000028 on timeline 1')).toBeUndefined();
    expect(parseProgressLine('waiting for checkpoint')).toBeUndefined();
  });

  it('measures the rate over the recent updates and estimates the time left', () => {
    const meter = progressMeter(10_000);
    expect(meter(0, 10_000, 0)).toEqual({});
    expect(meter(1_000, 10_000, 1_000)).toEqual({ rateKbps: 1_000, etaSeconds: 9 });
    expect(meter(3_000, 10_000, 2_000)).toEqual({ rateKbps: 1_500, etaSeconds: 5 });
    // Twenty seconds later the first updates have left the window: only the recent rate counts.
    meter(3_000, 10_000, 20_000);
    expect(meter(8_000, 10_000, 25_000)).toEqual({ rateKbps: 217, etaSeconds: 9 });
  });
});
