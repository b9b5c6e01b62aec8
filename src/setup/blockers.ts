import { sameCluster } from '../facts/identity.js';
import { clientPackageHint } from '../facts/clusters.js';
import type { PairFacts } from '../session.js';

/** Problems visible from discovery alone that would stop a setup; shown in red before any choice. */
export function blockingProblems({ primary, standby }: PairFacts): string[] {
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
  return problems;
}
