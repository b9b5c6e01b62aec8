import { UsageError } from '../errors.js';

/**
 * When `status` says a pair needs attention. Each limit carries its unit on the command line
 * (`--max-lag 30s`, `--max-lag 64MB`, `--max-retained 10GB`); sizes use PostgreSQL's units
 * (1 kB = 1024 B, as in postgresql.conf).
 */
export interface Thresholds {
  /** A standby's replay_lag above this many seconds. */
  maxLagSeconds?: number;
  /** A standby's unreplayed WAL (current position − replay_lsn) above this many bytes. */
  maxLagBytes?: number;
  /** WAL a slot retains on the primary above this many bytes. */
  maxRetainedBytes: number;
}

export const defaultMaxLag = '30s,64MB';
export const defaultMaxRetained = '10GB';

const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const durationUnits: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600 };

type Limit = { kind: 'bytes' | 'seconds'; value: number };

function parseLimit(text: string, flag: string): Limit {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text.trim());
  const unit = match?.[2].toLowerCase();
  if (match && unit && unit in sizeUnits) return { kind: 'bytes', value: Number(match[1]) * sizeUnits[unit] };
  if (match && unit && unit in durationUnits) return { kind: 'seconds', value: Number(match[1]) * durationUnits[unit] };
  throw new UsageError(`${flag} ${text}: a limit needs a number and its unit`, `write it like ${flag} 30s or ${flag} 64MB (units: ms, s, min, h; B, kB, MB, GB, TB)`);
}

/** `--max-lag` takes a time, a size or both (`30s,64MB`); `--max-retained` a size. */
export function parseThresholds(options: { maxLag?: string; maxRetained?: string }): Thresholds {
  const lag = (options.maxLag ?? defaultMaxLag).split(',').map((part) => parseLimit(part, '--max-lag'));
  const retained = parseLimit(options.maxRetained ?? defaultMaxRetained, '--max-retained');
  if (retained.kind !== 'bytes') throw new UsageError(`--max-retained ${options.maxRetained}: WAL retained is a size`, 'write it like --max-retained 10GB');
  const pick = (kind: Limit['kind']) => {
    const found = lag.filter((limit) => limit.kind === kind);
    if (found.length > 1) throw new UsageError(`--max-lag ${options.maxLag}: two ${kind === 'bytes' ? 'sizes' : 'times'}`, 'give at most one time and one size, e.g. --max-lag 30s,64MB');
    return found[0]?.value;
  };
  return { maxLagSeconds: pick('seconds'), maxLagBytes: pick('bytes'), maxRetainedBytes: retained.value };
}
