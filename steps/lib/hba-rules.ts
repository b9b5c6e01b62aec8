import { isIPv4, isIPv6 } from 'node:net';

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export function addressBytes(text: string): number[] | undefined {
  const address = text.replace(/%.*$/, ''); // an IPv6 zone ("fe80::1%eth0") is not part of the address
  if (isIPv4(address)) return address.split('.').map(Number);
  if (!isIPv6(address)) return undefined;
  // An IPv4 tail ("::ffff:10.0.0.1") becomes the last two 16-bit words.
  const hex = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${(Number(a) * 256 + Number(b)).toString(16)}:${(Number(c) * 256 + Number(d)).toString(16)}`);
  const words = (part: string) => (part ? part.split(':').map((word) => parseInt(word, 16)) : []);
  const [head, tail] = hex.split('::');
  const all = tail === undefined ? words(head) : [...words(head), ...new Array<number>(8 - words(head).length - words(tail).length).fill(0), ...words(tail)];
  return all.flatMap((word) => [word >> 8, word & 0xff]);
}

/** The netmask bytes of a prefix length for an address of `length` bytes. */
export function prefixMask(prefix: number, length: number): number[] {
  return Array.from({ length }, (_, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return (0xff << (8 - bits)) & 0xff;
  });
}

const within = (network: number[] | undefined, mask: number[] | undefined, address: number[] | undefined) =>
  !!network && !!mask && !!address && network.length === address.length && mask.length === address.length &&
  address.every((byte, i) => (byte & mask[i]) === (network[i] & mask[i]));

/** Whether `address` lies in network/netmask (same family only, as PostgreSQL compares them). */
export const networkContains = (network: string, netmask: string, address: string) =>
  within(addressBytes(network), addressBytes(netmask), addressBytes(address));

/** Whether `address` lies in a network written as CIDR ("10.0.0.0/8", "fd00::/64", or a bare address). */
export function cidrContains(cidr: string, address: string): boolean {
  const [network, prefix] = cidr.split('/');
  const bytes = addressBytes(network);
  if (!bytes || (prefix !== undefined && !/^\d+$/.test(prefix))) return false;
  return within(bytes, prefixMask(prefix === undefined ? bytes.length * 8 : Number(prefix), bytes.length), addressBytes(address));
}

/** The host-only CIDR PostgreSQL expects for one address: /32 for IPv4, /128 for IPv6. */
export const hostCidr = (address: string) => `${address}/${isIPv6(address) ? 128 : 32}`;

/** A row of pg_hba_file_rules (file_name exists from PostgreSQL 16, with include files). */
export type HbaRule = {
  line_number: number;
  type: string;
  database: string[] | null;
  user_name: string[] | null;
  address: string | null;
  netmask: string | null;
  auth_method: string | null;
  error: string | null;
  file_name?: string | null;
};

/** The rows with errors, as an operator finds the line: `file:line: error` (`line N: error` before PostgreSQL 16). */
export const hbaErrorLines = (rules: readonly HbaRule[]) =>
  rules.filter((rule) => rule.error !== null).map((rule) => `${rule.file_name ?? 'line'}${rule.file_name ? ':' : ' '}${rule.line_number}: ${rule.error}`);

/** A physical replication connection as the primary will see it from the standby. */
export interface ReplicationClient {
  address: string;
  role: string;
  /** Whether the connection uses SSL: libpq prefers it whenever the server has ssl = on. */
  ssl: boolean;
  /** The server's own interface networks as CIDRs, for samehost/samenet. */
  serverNetworks: string[];
}

const typeMatches = (type: string, ssl: boolean) =>
  type === 'host' || type === 'hostnogssenc' || (type === 'hostssl' && ssl) || (type === 'hostnossl' && !ssl);

function addressMatches(rule: HbaRule, client: ReplicationClient): boolean {
  if (rule.address === 'all') return true;
  if (rule.address === 'samehost') return client.serverNetworks.some((cidr) => cidrContains(cidr.split('/')[0], client.address));
  if (rule.address === 'samenet') return client.serverNetworks.some((cidr) => cidrContains(cidr, client.address));
  // An IP with its netmask; a host name (matched through reverse DNS) is not evaluated.
  return rule.address !== null && rule.netmask !== null && networkContains(rule.address, rule.netmask, client.address);
}

/**
 * The rule PostgreSQL picks for the connection: the first one that matches, top to bottom.
 * Physical walsenders match only the database keyword `replication` (never `all`). Users match
 * by name or `all`; `+group` and regular-expression entries are not evaluated (treated as no match).
 */
export function firstMatchingRule(rules: readonly HbaRule[], client: ReplicationClient): HbaRule | undefined {
  return rules.find(
    (rule) =>
      rule.error === null &&
      typeMatches(rule.type, client.ssl) &&
      (rule.database ?? []).includes('replication') &&
      (rule.user_name ?? []).some((user) => user === 'all' || user === client.role) &&
      addressMatches(rule, client),
  );
}

/** Methods that check the password the standby will send. */
export const passwordMethods = ['scram-sha-256', 'md5', 'password'] as const;

const hbaKeywords = new Set(['all', 'sameuser', 'samerole', 'samegroup', 'replication']);

/** A role name as a pg_hba token: quoted when it would otherwise read as a keyword. */
const hbaToken = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) && !hbaKeywords.has(name) ? name : `"${name.replace(/"/g, '""')}"`);

export const hbaTag = (slotName: string) => `# pgrepl-wizard: ${slotName}`;

/** `hostssl` when the primary has ssl = on: the rule then never lets the password cross the network in clear. */
export function hbaLine(role: string, address: string, method: string, slotName: string, ssl = false): string {
  return `${(ssl ? 'hostssl' : 'host').padEnd(8)}${'replication'.padEnd(16)}${hbaToken(role).padEnd(16)}${hostCidr(address).padEnd(24)}${method.padEnd(16)}${hbaTag(slotName)}`;
}

const isTagged = (line: string, slotName: string) => line.trimEnd().endsWith(hbaTag(slotName));

/**
 * The file with our line in place: any earlier line carrying our tag is dropped (so re-runs
 * never duplicate it), and the line goes just before line `before` (1-based, in the current
 * file), or at the end.
 */
export function placeHbaLine(text: string, line: string, slotName: string, before?: number): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: string[] = [];
  lines.forEach((current, i) => {
    if (i + 1 === before) out.push(line);
    if (!isTagged(current, slotName)) out.push(current);
  });
  if (before === undefined || before > lines.length) out.push(line);
  return out.join('\n') + '\n';
}

export const taggedLineNumbers = (text: string, slotName: string) =>
  text.split('\n').flatMap((line, i) => (isTagged(line, slotName) ? [i + 1] : []));
