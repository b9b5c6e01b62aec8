import { clientTool } from './clusters.js';
import * as privileged from '../remote/commands.js';
import { autoConfValue } from './auto-conf.js';
import { conninfo, parseConninfo } from './conninfo.js';
import { liveSettings, runningAddress, settingsFromFiles, type LiveCluster } from './live.js';
import { connectionMessage } from '../catalog/replication-errors.js';

/**
 * A new replication connection from the standby host to the primary (IDENTIFY_SYSTEM), opened
 * the way the walreceiver opens one. It proves pg_hba, role, password, listen_addresses and
 * the network at once; a walsender that already streams proves none of them, because it
 * authenticated when it connected.
 */

export type ConnectionParams = readonly (readonly [string, string])[];

export interface ProbeOutcome {
  ok: boolean;
  /** psql's answer (system identifier|timeline|…), or PostgreSQL's and libpq's message line by line (connectionMessage). */
  output: string;
}

/** PG 12+ reads primary_conninfo and primary_slot_name from postgresql(.auto).conf next to standby.signal; PG ≤ 11 from recovery.conf. */
export const usesStandbySignal = (major: number) => major >= 12;

/** TLS of the standby's replication connections: libpq's sslmode, and the CA file it verifies the primary with. */
export interface ConnectionTls {
  sslmode: string;
  rootCert?: string;
}

/** sslmode (and sslrootcert) of every replication connection from the standby, when TLS is used. */
export const tlsParams = (tls: ConnectionTls | undefined): [string, string][] =>
  tls ? [['sslmode', tls.sslmode], ...(tls.rootCert ? [['sslrootcert', tls.rootCert] as [string, string]] : [])] : [];

/** The parameters setup gives the walreceiver: the password stays in the passfile. */
export const passfileParams = (settings: { primaryAddress: string; roleName: string; passfile: string; tls?: ConnectionTls }, primaryPort: number): ConnectionParams => [
  ['host', settings.primaryAddress],
  ['port', String(primaryPort)],
  ['user', settings.roleName],
  ['passfile', settings.passfile],
  ...tlsParams(settings.tls),
];

/** The psql command; `params` must not hold a password (see probeReplication). */
export const replicationConninfo = (params: ConnectionParams) => conninfo([...params, ['dbname', 'replication'], ['replication', 'true'], ['connect_timeout', '10']]);

export const replicationProbeArgv = (psql: string, params: ConnectionParams) => privileged.replicationProbe(psql, replicationConninfo(params));

export async function probeReplication(standby: LiveCluster, params: ConnectionParams): Promise<ProbeOutcome> {
  const password = params.find(([key]) => key === 'password')?.[1];
  const psql = clientTool(standby.cluster, 'psql');
  const target = replicationConninfo(params.filter(([key]) => key !== 'password' && key !== 'dbname' && key !== 'replication'));
  const result =
    password === undefined
      ? await standby.host.exec(privileged.replicationProbe(psql, target), { as: 'postgres' })
      : // psql's stdin carries a password found in primary_conninfo, so it never shows in a process list.
        await standby.host.exec(privileged.replicationProbeWithPassword(psql, target), { as: 'postgres', stdin: `${password}\n` });
  return result.code === 0 ? { ok: true, output: result.stdout.trim() } : { ok: false, output: connectionMessage(result.stderr) };
}

/** The standby's own say on whom it follows, and where that was read. */
export interface WalreceiverConfig {
  conninfo?: string;
  slotName?: string;
  params: Record<string, string>;
  /** recovery.conf, or the server's settings (pg_settings while it runs, else postgres -C). */
  fromRecoveryConf: boolean;
}

export const walreceiverSettingNames = ['primary_conninfo', 'primary_slot_name'];

/**
 * primary_conninfo and primary_slot_name as the standby uses them: its settings (PG 12+),
 * recovery.conf up to PG 11, or when one is present and the settings have no conninfo.
 */
export function walreceiverConfig(major: number, settings: Readonly<Record<string, string>>, recoveryConf: string | null): WalreceiverConfig {
  const fromSettings = (name: string) => settings[name] || undefined;
  const fromRecoveryConf = recoveryConf !== null && (!usesStandbySignal(major) || !fromSettings('primary_conninfo'));
  const value = fromRecoveryConf ? (name: string) => autoConfValue(recoveryConf, name) || undefined : fromSettings;
  const text = value('primary_conninfo');
  const pairs = text === undefined ? [] : (parseConninfo(text) ?? []);
  return { conninfo: text, slotName: value('primary_slot_name'), params: Object.fromEntries(pairs), fromRecoveryConf };
}

/** primary_conninfo as the standby uses it, as connection parameters; undefined when it has none. */
export async function walreceiverParams(standby: LiveCluster): Promise<ConnectionParams | undefined> {
  const { host, cluster } = standby;
  const address = await runningAddress(standby);
  const settingsRead = address ? liveSettings(host, address, walreceiverSettingNames) : settingsFromFiles(standby, walreceiverSettingNames);
  const readRecoveryConf = () => host.readFile(`${cluster.dataDirectory}/recovery.conf`, 'postgres');
  // From PG 12 recovery.conf counts only when the settings name no primary_conninfo (walreceiverConfig): read only then.
  const [settings, recoveryConf] = await Promise.all([
    settingsRead,
    usesStandbySignal(cluster.major) ? settingsRead.then((read) => (read.primary_conninfo ? null : readRecoveryConf())) : readRecoveryConf(),
  ]);
  const text = walreceiverConfig(cluster.major, settings, recoveryConf).conninfo;
  return text === undefined ? undefined : parseConninfo(text);
}
