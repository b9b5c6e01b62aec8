import type { SetupSettings } from '../contract.js';

/**
 * The texts a standby's recovery configuration is made of, rendered per major version.
 * Two quoting layers meet here: libpq's conninfo (`key=value`, single quotes and backslash
 * escapes) inside a postgresql.conf string literal (quotes and backslashes doubled, as
 * ALTER SYSTEM writes postgresql.auto.conf).
 */

/** A conninfo value: bare when libpq reads it back unchanged, else single-quoted. */
export function conninfoValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

export function conninfo(params: readonly (readonly [string, string])[]): string {
  return params.map(([key, value]) => `${key}=${conninfoValue(value)}`).join(' ');
}

/** What the standby's walreceiver connects with: the password stays in the passfile. */
export function primaryConninfo(settings: SetupSettings, primaryPort: number): string {
  return conninfo([
    ['host', settings.primaryAddress],
    ['port', String(primaryPort)],
    ['user', settings.roleName],
    ['passfile', settings.passfile],
    ['application_name', settings.slotName],
  ]);
}

/** A postgresql.conf string literal (' and \ doubled, as ALTER SYSTEM writes them). */
const confString = (value: string) => `'${value.replace(/['\\]/g, (c) => c + c)}'`;

/** PG 12+ reads these from postgresql(.auto).conf next to standby.signal; PG ≤ 11 from recovery.conf. */
export const usesStandbySignal = (major: number) => major >= 12;

export function recoverySettings(major: number, conninfoText: string, slotName: string): Record<string, string> {
  const settings: Record<string, string> = { primary_conninfo: conninfoText, primary_slot_name: slotName };
  // 12+ follows the newest timeline by default; ≤ 11 must be told, or a promoted primary loses its standby.
  return usesStandbySignal(major) ? settings : { standby_mode: 'on', ...settings, recovery_target_timeline: 'latest' };
}

/** recovery.conf for PG ≤ 11. */
export function recoveryConfText(major: number, conninfoText: string, slotName: string): string {
  const lines = Object.entries(recoverySettings(major, conninfoText, slotName)).map(([name, value]) => `${name} = ${confString(value)}`);
  return ['# Written by pgrepl-wizard: this server is a streaming standby.', ...lines].join('\n') + '\n';
}

/**
 * Settings a hot standby must have at least as high as its primary (else recovery pauses or
 * aborts: "hot standby is not possible because of insufficient parameter settings").
 */
export const hotStandbyMinimums = (major: number) => [
  'max_connections',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  ...(major >= 12 ? ['max_wal_senders'] : []),
];

/** The settings to raise on the standby, with the primary's values. */
export function settingsToRaise(major: number, primary: Readonly<Record<string, string>>, standby: Readonly<Record<string, string>>): Record<string, string> {
  const raise: Record<string, string> = {};
  for (const name of hotStandbyMinimums(major)) {
    if (primary[name] !== undefined && Number(standby[name]) < Number(primary[name])) raise[name] = primary[name];
  }
  return raise;
}

/**
 * The clone copies the primary's postgresql.auto.conf, including a listen_addresses that
 * names the primary's own address; the standby gets its own address in that place.
 */
export function standbyListenAddresses(cloned: string | undefined, primaryListenAddress: string, standbyAddress: string): string | undefined {
  if (cloned === undefined) return undefined;
  const addresses = cloned.split(',').map((a) => a.trim());
  if (!addresses.includes(primaryListenAddress)) return undefined;
  return [...new Set(addresses.map((a) => (a === primaryListenAddress ? standbyAddress : a)))].join(',');
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
