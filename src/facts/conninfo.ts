/**
 * libpq's connection strings (primary_conninfo): `key=value` pairs, values bare or single-quoted
 * with backslash escapes, or a postgresql:// URI.
 */

/** A conninfo value: bare when libpq reads it back unchanged, else single-quoted. */
export function conninfoValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

export function conninfo(params: readonly (readonly [string, string])[]): string {
  return params.map(([key, value]) => `${key}=${conninfoValue(value)}`).join(' ');
}

/**
 * A conninfo as libpq reads it, keyword=value pairs (values bare or single-quoted with
 * backslash escapes) or a postgresql:// URI, as [keyword, value] in order. Undefined when
 * the text is neither.
 */
export function parseConninfo(text: string): [string, string][] | undefined {
  const trimmed = text.trim();
  if (/^postgres(ql)?:\/\//.test(trimmed)) return parseConninfoUri(trimmed);
  const pairs: [string, string][] = [];
  const pattern = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s'\\]|\\.)+))\s*/y;
  while (pattern.lastIndex < trimmed.length) {
    const match = pattern.exec(trimmed);
    if (!match) return undefined;
    pairs.push([match[1], (match[2] ?? match[3]).replace(/\\(.)/g, '$1')]);
  }
  return pairs;
}

function parseConninfoUri(text: string): [string, string][] | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const pairs: [string, string][] = [];
  const add = (key: string, value: string) => value !== '' && pairs.push([key, decodeURIComponent(value)]);
  add('host', url.hostname.replace(/^\[(.*)\]$/, '$1'));
  add('port', url.port);
  add('user', url.username);
  add('password', url.password);
  add('dbname', url.pathname.replace(/^\//, ''));
  for (const [key, value] of url.searchParams) pairs.push([key, value]);
  return pairs;
}
