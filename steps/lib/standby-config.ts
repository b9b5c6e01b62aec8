import type { ReplicationTls, SetupSettings } from '../contract.js';
import { parseAutoConf } from '../../src/facts/auto-conf.js';
import { conninfo } from '../../src/facts/conninfo.js';
import { tlsParams, usesStandbySignal } from '../../src/facts/replication.js';

/**
 * The texts a standby's recovery configuration is made of, rendered per major version.
 * Two quoting layers meet here: libpq's conninfo (`key=value`, single quotes and backslash
 * escapes) inside a postgresql.conf string literal (quotes and backslashes doubled, as
 * ALTER SYSTEM writes postgresql.auto.conf).
 */

/** The same for a client that takes them from its environment (pg_basebackup): PGSSLMODE=…, PGSSLROOTCERT=…. */
export const tlsEnvironment = (tls: ReplicationTls | undefined): string[] => tlsParams(tls).map(([key, value]) => `PG${key.toUpperCase()}=${value}`);

/** What the standby's walreceiver connects with: the password stays in the passfile. */
export function primaryConninfo(settings: SetupSettings, primaryPort: number): string {
  return conninfo([
    ['host', settings.primaryAddress],
    ['port', String(primaryPort)],
    ['user', settings.roleName],
    ['passfile', settings.passfile],
    ...tlsParams(settings.tls),
    ['application_name', settings.slotName],
  ]);
}

/** A postgresql.conf string literal (' and \ doubled, as ALTER SYSTEM writes them). */
const confString = (value: string) => `'${value.replace(/['\\]/g, (c) => c + c)}'`;

/** `archive`: restore_command and archive_cleanup_command, for a standby that reads the primary's WAL archive. */
export function recoverySettings(major: number, conninfoText: string, slotName: string, archive: Record<string, string> = {}): Record<string, string> {
  const settings: Record<string, string> = { primary_conninfo: conninfoText, primary_slot_name: slotName, ...archive };
  // 12+ follows the newest timeline by default; ≤ 11 must be told, or a promoted primary loses its standby.
  return usesStandbySignal(major) ? settings : { standby_mode: 'on', ...settings, recovery_target_timeline: 'latest' };
}

/**
 * recovery.conf for PG ≤ 11 with `recovery`'s settings. The standby's own file (`before`) keeps
 * every line they do not name (an operator's restore_command, comments, other settings), as
 * postgresql.auto.conf does from 12: a setting of `recovery` is replaced where it first stands
 * (its later lines dropped: the last one would win) and appended when it is not there.
 */
export function recoveryConfText(recovery: Readonly<Record<string, string>>, before: string | null = null): string {
  const line = (name: string) => `${name} = ${confString(recovery[name])}`;
  if (!before?.trim()) return ['# Written by pgrepl-wizard: this server is a streaming standby.', ...Object.keys(recovery).map(line)].join('\n') + '\n';
  const written = new Set<string>();
  const kept = before.replace(/\n$/, '').split('\n').flatMap((text) => {
    const name = parseAutoConf(text)[0]?.name.toLowerCase();
    if (name === undefined || !(name in recovery)) return [text];
    if (written.has(name)) return [];
    written.add(name);
    return [line(name)];
  });
  return [...kept, ...Object.keys(recovery).filter((name) => !written.has(name)).map(line)].join('\n') + '\n';
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
