import { catalog, matchLogLine, type FindingId } from './catalog.js';

/**
 * The fix for PostgreSQL's own text of a failing replication connection, clone or standby
 * start, as psql, pg_basebackup or a server log shows it. Server-side messages are
 * recognised by the doctor catalog; the fix names this run's role, addresses and files.
 */

export interface ReplicationEndpoints {
  roleName: string;
  slotName: string;
  primaryAddress: string;
  primaryPort: number;
  standbyAddress: string;
  passfile: string;
}

type Fix = (e: ReplicationEndpoints) => string;

const refused: Fix = (e) =>
  `nothing accepts connections on ${e.primaryAddress} port ${e.primaryPort}: check the primary's listen_addresses ` +
  '(the default is localhost; changing it needs a restart), its port, and any firewall between the hosts';
const unreachable: Fix = (e) =>
  `the standby cannot reach ${e.primaryAddress} port ${e.primaryPort}: check routing and firewalls between the hosts (allow TCP ${e.primaryPort} from ${e.standbyAddress})`;

// Client-side texts (libpq) that no server log carries; checked first. pg_basebackup's own: clone-failures.ts.
const clientRules: [RegExp, Fix][] = [
  [/fe_sendauth: no password supplied/, (e) =>
    `${e.passfile} on the standby has no line for ${e.primaryAddress}:${e.primaryPort}:replication:${e.roleName} ` +
    '(or libpq ignores the file: it must be owned by the OS user that runs the standby\'s PostgreSQL, mode 0600); run setup again to write it'],
  [/Connection refused/, refused],
  [/timeout expired|timed out|No route to host|Network is unreachable/, unreachable],
  [/could not translate host name/, (e) => `the standby cannot resolve ${e.primaryAddress}: use an IP address (--primary-address) or fix DNS or /etc/hosts on the standby`],
  [/data directory "[^"]+" has (?:invalid permissions|group or world access|wrong ownership)/, () => 'chown -R the data directory to the OS user that runs PostgreSQL and chmod 0700 it'],
];

// Catalog findings whose fix can name this run's values.
const concreteFixes: Partial<Record<FindingId, Fix>> = {
  'hba-missing': (e) =>
    `on the primary, add "host replication ${e.roleName} ${e.standbyAddress}/32 scram-sha-256" to pg_hba.conf (above any reject line) and reload ` +
    '(a replication connection matches only the database keyword "replication", never "all")',
  'auth-failed': (e) =>
    `the password in ${e.passfile} on the standby does not match role ${e.roleName} on the primary: ` +
    `run setup again with PGREPL_PASSWORD set to the role's password, or set it on the primary (ALTER ROLE ${e.roleName} PASSWORD ...)`,
  'not-replication-role': (e) => `on the primary: ALTER ROLE ${e.roleName} WITH LOGIN REPLICATION`,
  'slot-missing': (e) => `on the primary: SELECT pg_create_physical_replication_slot('${e.slotName}')`,
  'primary-unreachable': (e) => `${refused(e)}; or routing/firewall (allow TCP ${e.primaryPort} from ${e.standbyAddress})`,
};

/** The fix for a catalog finding, naming this pair's role, addresses and files where the catalog's text is generic. */
export const findingFix = (id: FindingId, endpoints: ReplicationEndpoints): string => concreteFixes[id]?.(endpoints) ?? catalog[id].fix;

/** The fix for the first message recognised in `text`, or undefined. */
export function replicationFix(text: string, endpoints: ReplicationEndpoints): string | undefined {
  const client = clientRules.find(([pattern]) => pattern.test(text));
  if (client) return client[1](endpoints);
  for (const line of text.split('\n')) {
    const [id] = matchLogLine(line);
    if (id) return findingFix(id, endpoints);
  }
  return undefined;
}

/** The lines of psql/pg_basebackup stderr that carry the error, without progress and -v chatter. */
export function errorLines(stderr: string): string[] {
  return stderr
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => /error:|FATAL:|ERROR:|DETAIL:|HINT:|failed:/.test(line));
}

/**
 * What psql says when a connection fails, as PostgreSQL and libpq worded it: every line,
 * libpq's continuation lines included, without psql's own prefix ("psql: error: " from 12 on,
 * "psql: " before). The privilege wrapper's lines never reach here (src/remote splits them off).
 */
export function connectionMessage(stderr: string): string {
  return stderr
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim().replace(/^psql: (?:error: )?/, ''))
    .filter(Boolean)
    .join('\n');
}
