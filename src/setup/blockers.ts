import { sameCluster } from '../facts/identity.js';
import { clientPackageHint } from '../facts/clusters.js';
import type { PairFacts } from '../session.js';

/** Problems visible from discovery alone that would stop a setup; shown in red before any choice. */
export function blockingProblems({ primary, standby, upstream }: PairFacts): string[] {
  const problems: string[] = [];
  const p = primary.cluster;
  const s = standby.cluster;
  if (!p || !s) return ['no cluster chosen on one of the hosts'];
  if (sameCluster(p.identity, s.identity)) {
    problems.push(`the standby ${standby.label} cluster ${s.ref.id} is the primary's own cluster (same running kernel, same data directory ${s.dataDirectory}): point --standby at the other server`);
  }
  if (!p.ref.running) problems.push(`the primary cluster ${p.ref.id} is not running: start it first`);
  if (p.inRecovery) problems.push(`the "primary" ${primary.label} is itself in recovery (a standby): point --primary at the real primary`);
  if (p.ref.major !== s.ref.major) {
    problems.push(`major versions differ: primary ${p.ref.major}, standby ${s.ref.major}; install PostgreSQL ${p.ref.major} on the standby`);
  }
  if (!standby.pgBasebackup) {
    problems.push(`no pg_basebackup and psql of PostgreSQL ${p.ref.major} or later on the standby (looked in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, ${s.ref.binDir} and PATH): ${clientPackageHint(p.ref.major)}`);
  }
  if (upstream) problems.push(...upstreamProblems({ primary, standby, upstream }));
  return problems;
}

/**
 * A cascade's upstream must be another standby of this primary, running in recovery (a
 * cascading walsender serves only from a standby that replays the primary's WAL).
 */
function upstreamProblems({ primary, standby, upstream }: Required<PairFacts>): string[] {
  const u = upstream.cluster;
  const p = primary.cluster!;
  const s = standby.cluster!;
  if (!u) return ['no cluster chosen on the upstream'];
  const where = `the upstream ${upstream.label} cluster ${u.ref.id}`;
  if (sameCluster(u.identity, s.identity)) return [`${where} is the standby's own cluster: a standby cannot stream from itself; name another standby with --upstream`];
  if (sameCluster(u.identity, p.identity)) return [`${where} is the primary's own cluster: leave --upstream out to stream from the primary`];
  if (!u.ref.running) return [`${where} is not running: start it first, or leave --upstream out to stream from the primary`];
  const problems: string[] = [];
  if (!u.inRecovery) problems.push(`${where} is not in recovery (not a standby): a cascaded standby streams from another standby of the primary; leave --upstream out to stream from the primary`);
  if (u.systemIdentifier && p.systemIdentifier && u.systemIdentifier !== p.systemIdentifier) {
    problems.push(`${where} is not a copy of the primary (system identifier ${u.systemIdentifier}, the primary's ${p.systemIdentifier}): set it up as the primary's standby first, then cascade from it`);
  }
  if (u.ref.major !== p.ref.major) problems.push(`major versions differ: primary ${p.ref.major}, upstream ${u.ref.major}`);
  return problems;
}
