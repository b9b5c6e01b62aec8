import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Password verifiers in PostgreSQL's own formats, computed on the workstation so that only
 * the verifier travels to the server (what psql's \password does): a log_statement or
 * pg_stat_activity entry for CREATE/ALTER ROLE then shows a verifier, never the password.
 *
 *   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>   (RFC 5802/7677)
 *   md5<md5 hex of password || user name>
 */

export type PasswordMethod = 'scram-sha-256' | 'md5';

/** PostgreSQL's defaults: scram_iterations (settable from 16) and SCRAM_DEFAULT_SALT_LEN. */
const defaultIterations = 4096;
const saltLength = 16;

/** RFC 3454 C.1.2, mapped to SPACE by SASLprep. */
const nonAsciiSpace = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/gu;
/** RFC 3454 B.1, mapped to nothing by SASLprep. */
const mappedToNothing = /[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/gu;

/**
 * SASLprep (RFC 4013) as PostgreSQL applies it, approximated: ASCII passwords are used as they
 * are (exactly like PostgreSQL); others get the RFC's mapping step and NFKC normalization.
 * Not implemented: the prohibited-character and bidi checks, after which PostgreSQL falls back
 * to the raw bytes; a password with such characters (control characters, private use, …)
 * may therefore get a verifier the server does not accept.
 */
export function saslPrep(password: string): string {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  return password.replace(nonAsciiSpace, ' ').replace(mappedToNothing, '').normalize('NFKC');
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

function scramKeys(password: string, salt: Buffer, iterations: number) {
  const salted = pbkdf2Sync(Buffer.from(saslPrep(password), 'utf8'), salt, iterations, 32, 'sha256');
  return { storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

export function scramVerifier(password: string, salt: Buffer = randomBytes(saltLength), iterations = defaultIterations): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export const md5Verifier = (password: string, roleName: string) =>
  `md5${createHash('md5').update(password + roleName, 'utf8').digest('hex')}`;

interface ScramParts {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

function parseScramVerifier(verifier: string): ScramParts | undefined {
  const match = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!match) return undefined;
  return {
    iterations: Number(match[1]),
    salt: Buffer.from(match[2], 'base64'),
    storedKey: Buffer.from(match[3], 'base64'),
    serverKey: Buffer.from(match[4], 'base64'),
  };
}

const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/** Which kind of verifier pg_authid.rolpassword holds (null: no password, or a plain-text one from PostgreSQL < 10). */
export function verifierMethod(stored: string | null): PasswordMethod | undefined {
  if (!stored) return undefined;
  if (parseScramVerifier(stored)) return 'scram-sha-256';
  if (/^md5[0-9a-f]{32}$/.test(stored)) return 'md5';
  return undefined;
}

/**
 * Whether `password` is the one behind a stored verifier: for SCRAM the keys are recomputed
 * with the stored salt and iteration count, for md5 the hash with the role name.
 */
export function verifierAccepts(stored: string | null, password: string, roleName: string): boolean {
  if (!stored) return false;
  const scram = parseScramVerifier(stored);
  if (scram) {
    const keys = scramKeys(password, scram.salt, scram.iterations);
    return sameBytes(keys.storedKey, scram.storedKey) && sameBytes(keys.serverKey, scram.serverKey);
  }
  return verifierMethod(stored) === 'md5' && sameBytes(Buffer.from(md5Verifier(password, roleName)), Buffer.from(stored));
}

/**
 * The verifier kind (and pg_hba method) to use: md5 only where password_encryption still says
 * md5 on a server older than 14 ("on" meant md5 before 14), SCRAM everywhere else. PostgreSQL
 * 10+ stores a pre-computed verifier as it is, whatever password_encryption says.
 */
export function passwordMethodFor(serverMajor: number, passwordEncryption: string): PasswordMethod {
  return serverMajor < 14 && (passwordEncryption === 'md5' || passwordEncryption === 'on') ? 'md5' : 'scram-sha-256';
}

export const verifierFor = (method: PasswordMethod, password: string, roleName: string) =>
  method === 'md5' ? md5Verifier(password, roleName) : scramVerifier(password);
