// OpenSSH known_hosts verification for ssh2 connections.
//
// ssh2 hands the host verifier the raw public key blob and leaves trust to us.
// We follow OpenSSH (hostfile.c) so that a host the user already trusts with
// `ssh` is trusted here, and a key OpenSSH would reject is rejected here too.

import { createHash, createHmac } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ServerHostKeyAlgorithm } from 'ssh2';

export type KnownHostMarker = 'revoked' | 'cert-authority';

/** The host field of a known_hosts line. */
export type KnownHostField =
  | { kind: 'patterns'; patterns: string[] }
  // `|1|salt|hmac`: HMAC-SHA1 of the lookup name keyed with the salt.
  | { kind: 'hashed'; salt: Buffer; hmac: Buffer };

export interface KnownHostEntry {
  /** 1-based line number in the source text, for messages. */
  line: number;
  marker?: KnownHostMarker;
  host: KnownHostField;
  /** Key type read from the blob itself, e.g. `ssh-ed25519`, `ssh-rsa`. */
  keyType: string;
  keyBlob: Buffer;
}

export type HostKeyCheck =
  | { status: 'known' }
  | { status: 'unknown' }
  | { status: 'changed'; knownFingerprints: string[] }
  | { status: 'revoked' };

/**
 * OpenSSH wildcard match: `*` is any run of characters, `?` exactly one;
 * everything else is literal (so `[host]:2222` matches only itself).
 */
export function matchWildcard(text: string, pattern: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(text);
}

/**
 * The name OpenSSH looks up and records: `host` on port 22, `[host]:port`
 * otherwise. Lower-cased because ssh lower-cases the host before hashing
 * or writing it, so hashed entries only match the lower-case form.
 */
export function hostKeyLookupName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** `SHA256:<base64 without padding>`, the form `ssh-keygen -lf` prints. */
export function fingerprintSha256(keyBlob: Buffer): string {
  const digest = createHash('sha256').update(keyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** The key type: the SSH wire string (uint32 length + bytes) opening the blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) throw new Error('SSH key blob too short');
  const length = keyBlob.readUInt32BE(0);
  if (length === 0 || 4 + length > keyBlob.length) throw new Error('SSH key blob has a malformed type string');
  return keyBlob.toString('utf8', 4, 4 + length);
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const entry = parseKnownHostsLine(rawLine, index + 1);
    if (entry) entries.push(entry);
  });
  return entries;
}

/** One line, or undefined for comments, blanks and lines OpenSSH would skip as invalid. */
function parseKnownHostsLine(rawLine: string, line: number): KnownHostEntry | undefined {
  const fields = rawLine.trim().split(/[ \t]+/);
  if (fields[0] === '' || fields[0].startsWith('#')) return undefined;

  let marker: KnownHostMarker | undefined;
  if (fields[0].startsWith('@')) {
    // Unknown markers make OpenSSH ignore the line; do the same.
    if (fields[0] === '@revoked') marker = 'revoked';
    else if (fields[0] === '@cert-authority') marker = 'cert-authority';
    else return undefined;
    fields.shift();
  }
  if (fields.length < 3) return undefined;

  const host = parseHostField(fields[0]);
  if (!host) return undefined;
  const keyBlob = Buffer.from(fields[2], 'base64');
  let keyType: string;
  try {
    keyType = keyTypeOf(keyBlob);
  } catch {
    return undefined;
  }
  // OpenSSH refuses a line whose declared type disagrees with the key itself.
  if (keyType !== fields[1]) return undefined;
  return { line, marker, host, keyType, keyBlob };
}

function parseHostField(field: string): KnownHostField | undefined {
  if (!field.startsWith('|')) return { kind: 'patterns', patterns: field.split(',').filter(Boolean) };
  const parts = field.split('|'); // ['', '1', salt, hmac]
  if (parts.length !== 4 || parts[1] !== '1') return undefined;
  const salt = Buffer.from(parts[2], 'base64');
  const hmac = Buffer.from(parts[3], 'base64');
  if (salt.length === 0 || hmac.length === 0) return undefined;
  return { kind: 'hashed', salt, hmac };
}

/**
 * OpenSSH match_pattern_list: a matching `!pattern` excludes the text
 * outright, otherwise one matching positive pattern is enough.
 */
export function matchPatternList(text: string, patterns: string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (matchWildcard(text, negated ? pattern.slice(1) : pattern)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** known_hosts host names compare case-insensitively (OpenSSH match_hostname). */
function hostFieldMatches(field: KnownHostField, lookupName: string): boolean {
  if (field.kind === 'hashed') {
    return createHmac('sha1', field.salt).update(lookupName).digest().equals(field.hmac);
  }
  return matchPatternList(lookupName.toLowerCase(), field.patterns.map((p) => p.toLowerCase()));
}

/** Entries whose host field matches; cert-authority lines play no part in plain key checks. */
function entriesForHost(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const lookupName = hostKeyLookupName(host, port);
  return entries.filter((e) => e.marker !== 'cert-authority' && hostFieldMatches(e.host, lookupName));
}

/**
 * Decide on a server's host key as OpenSSH does. A revoked key is refused
 * even if also listed as trusted. Only a different key of the same type
 * counts as "changed": a host may legitimately hold one key per type.
 * As in OpenSSH, a @revoked line applies to the hosts its host field matches
 * (usually `*`).
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyCheck {
  const forHost = entriesForHost(entries, host, port);
  if (forHost.some((e) => e.marker === 'revoked' && e.keyBlob.equals(keyBlob))) return { status: 'revoked' };

  const trusted = forHost.filter((e) => e.marker === undefined);
  if (trusted.some((e) => e.keyBlob.equals(keyBlob))) return { status: 'known' };

  const keyType = keyTypeOf(keyBlob);
  const sameType = trusted.filter((e) => e.keyType === keyType);
  if (sameType.length > 0) {
    return { status: 'changed', knownFingerprints: [...new Set(sameType.map((e) => fingerprintSha256(e.keyBlob)))] };
  }
  return { status: 'unknown' };
}

/** Key types trusted for this host, in file order. */
export function knownKeyTypesFor(entries: KnownHostEntry[], host: string, port: number): string[] {
  const trusted = entriesForHost(entries, host, port).filter((e) => e.marker === undefined);
  return [...new Set(trusted.map((e) => e.keyType))];
}

// ssh2's default serverHostKey list (Node 20 supports Ed25519).
const DEFAULT_HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

function isDefaultHostKeyAlgorithm(name: string): name is ServerHostKeyAlgorithm {
  return (DEFAULT_HOST_KEY_ALGORITHMS as readonly string[]).includes(name);
}

/**
 * ssh2 `algorithms.serverHostKey` with the known key types first, like
 * OpenSSH's order_hostkeyalgs: otherwise the server may present a key of a
 * type we have never seen and the user gets a needless "unknown host" prompt.
 * An `ssh-rsa` key is negotiated under the rsa-sha2-* signature names too.
 * Types ssh2 does not offer by default are dropped.
 */
export function preferredHostKeyAlgorithms(knownTypes: string[]): ServerHostKeyAlgorithm[] {
  const known = knownTypes
    .flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]))
    .filter(isDefaultHostKeyAlgorithm);
  return [...new Set([...known, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

/** The plain (unhashed) line to record a newly accepted key. */
export function knownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  return `${hostKeyLookupName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
}

/** Append a key; like ssh, create a missing directory as 0700 and a missing file as 0600. */
export async function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer): Promise<void> {
  const line = knownHostsLine(host, port, keyBlob);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a+', 0o600);
  try {
    // A file whose last line lacks a newline would otherwise get our entry glued onto it.
    const { size } = await handle.stat();
    let separator = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) separator = '\n';
    }
    await handle.appendFile(`${separator}${line}\n`);
  } finally {
    await handle.close();
  }
}

/** Parsed entries of a known_hosts file; a missing file simply knows no hosts. */
export async function loadKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
