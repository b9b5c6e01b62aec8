import { UsageError } from '../errors.js';

/** What the operator typed for a host: `[user@]host[:port]`, IPv6 as `[addr]:port`. */
export interface TargetSpec {
  user?: string;
  host: string;
  port?: number;
}

export function parseTarget(text: string, flag: string): TargetSpec {
  const trimmed = text.trim();
  const match = /^(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(trimmed);
  if (!match) {
    throw new UsageError(
      `${flag} "${text}" is not of the form [user@]host[:port]`,
      `pass e.g. ${flag} postgres@db1.example.com or ${flag} admin@10.0.0.5:2222`,
    );
  }
  const [, user, rawHost, rawPort] = match;
  const port = rawPort === undefined ? undefined : Number(rawPort);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new UsageError(`${flag} "${text}" has port ${rawPort}, outside 1-65535`, `fix the port in ${flag}`);
  }
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  return { user, host, port };
}

export function formatTarget(target: { user?: string; host: string; port?: number }): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const user = target.user ? `${target.user}@` : '';
  const port = target.port && target.port !== 22 ? `:${target.port}` : '';
  return `${user}${host}${port}`;
}
