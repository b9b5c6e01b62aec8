import { WizardError } from '../../src/errors.js';
import { where, type StepContext } from '../contract.js';
import { query } from './live-server.js';

type UpstreamState = {
  in_recovery: boolean;
  hot_standby: string;
  receiver: string | null;
  sender: string | null;
};

/**
 * Prechecks on a cascade's upstream before anything changes: it is a standby (in recovery)
 * with hot_standby on (a cascading walsender and pg_basebackup need its connections) whose own
 * WAL receiver streams, so what it sends on is the primary's WAL as it comes. Returns the line
 * for the operator; throws when the upstream cannot serve.
 */
export async function upstreamStreams(ctx: StepContext): Promise<string> {
  const [state] = await query<UpstreamState>(
    ctx.primary,
    `SELECT pg_is_in_recovery() AS in_recovery, current_setting('hot_standby') AS hot_standby,
            (SELECT status FROM pg_stat_wal_receiver) AS receiver,
            (SELECT ${ctx.primary.cluster.major >= 11 ? "sender_host || ':' || sender_port" : 'NULL::text'} FROM pg_stat_wal_receiver) AS sender`,
  );
  const fail = (problem: string, fix: string): never => {
    throw new WizardError(`the upstream ${problem}`, where(ctx.primary), `nothing was changed; ${fix}`);
  };
  if (!state.in_recovery) fail('is not in recovery: it is no standby to cascade from', 'leave --upstream out to stream from the primary');
  if (state.hot_standby !== 'on') fail('has hot_standby = off', "turn hot_standby on in the upstream's configuration and restart it");
  if (state.receiver !== 'streaming') {
    fail(
      `does not stream from the primary (its WAL receiver is ${state.receiver ?? 'not running'}): a standby cascaded from it would get no new WAL`,
      'repair the upstream first (pgrepl-wizard doctor with it as --standby), or leave --upstream out to stream from the primary',
    );
  }
  return `the upstream is a hot standby that streams${state.sender ? ` from ${state.sender}` : ''}: the standby is cloned from it and streams from it (a cascade)`;
}
