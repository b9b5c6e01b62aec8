import { clientTool } from '../../src/facts/clusters.js';
import * as privileged from '../../src/remote/commands.js';
import type { Node, SetupSettings } from '../contract.js';
import { autoConfValue } from './auto-conf.js';
import { runningAddress } from './cluster-state.js';
import { errorLines } from '../../src/catalog/replication-errors.js';
import { conninfo, parseConninfo, usesStandbySignal } from './standby-config.js';

/**
 * A new replication connection from the standby host to the primary (IDENTIFY_SYSTEM), opened
 * the way the walreceiver opens one. It proves pg_hba, role, password, listen_addresses and
 * the network at once; a walsender that already streams proves none of them, because it
 * authenticated when it connected.
 */

export type ConnectionParams = readonly (readonly [string, string])[];

export interface ProbeOutcome {
  ok: boolean;
  /** psql's answer (system identifier|timeline|…) or PostgreSQL's error lines. */
  output: string;
}

/** The parameters setup gives the walreceiver: the password stays in the passfile. */
export const passfileParams = (settings: Pick<SetupSettings, 'primaryAddress' | 'roleName' | 'passfile'>, primaryPort: number): ConnectionParams => [
  ['host', settings.primaryAddress],
  ['port', String(primaryPort)],
  ['user', settings.roleName],
  ['passfile', settings.passfile],
];

/** The psql command; `params` must not hold a password (see probeReplication). */
export const replicationConninfo = (params: ConnectionParams) => conninfo([...params, ['dbname', 'replication'], ['replication', 'true'], ['connect_timeout', '10']]);

export const replicationProbeArgv = (psql: string, params: ConnectionParams) => privileged.replicationProbe(psql, replicationConninfo(params));

export async function probeReplication(standby: Node, params: ConnectionParams): Promise<ProbeOutcome> {
  const password = params.find(([key]) => key === 'password')?.[1];
  const psql = clientTool(standby.cluster, 'psql');
  const target = replicationConninfo(params.filter(([key]) => key !== 'password' && key !== 'dbname' && key !== 'replication'));
  const result =
    password === undefined
      ? await standby.host.exec(privileged.replicationProbe(psql, target), { as: 'postgres' })
      : // psql's stdin carries a password found in primary_conninfo, so it never shows in a process list.
        await standby.host.exec(privileged.replicationProbeWithPassword(psql, target), { as: 'postgres', stdin: `${password}\n` });
  if (result.code === 0) return { ok: true, output: result.stdout.trim() };
  return { ok: false, output: errorLines(result.stderr).join(' ') || result.stderr.trim() };
}

/**
 * primary_conninfo as the standby uses it: the running server's value (PG 12+), else
 * recovery.conf's. Undefined when the standby has none.
 */
export async function walreceiverParams(standby: Node): Promise<ConnectionParams | undefined> {
  const { host, cluster } = standby;
  const address = await runningAddress(standby);
  const text =
    usesStandbySignal(cluster.major) && address
      ? (await host.sql<{ value: string }>(address, "SELECT current_setting('primary_conninfo') AS value"))[0]?.value
      : autoConfValue((await host.readFile(`${cluster.dataDirectory}/recovery.conf`, 'postgres')) ?? '', 'primary_conninfo');
  return text ? parseConninfo(text) : undefined;
}
