import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  hostKeyLookupName,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypesFor,
  loadKnownHosts,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from '../../src/remote/known-hosts.js';

// Real keys from OpenSSH's own tools, so formats and fingerprints are checked
// against the reference implementation rather than against ourselves.
interface TestKey {
  pubFile: string;
  type: string;
  base64: string;
  blob: Buffer;
}

let dir: string;
let ed25519: TestKey;
let ed25519Other: TestKey;
let ecdsa: TestKey;
let rsa: TestKey;

function generateKey(name: string, type: string, bits?: string): TestKey {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', bits] : []), '-N', '', '-C', name, '-f', file]);
  const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  return { pubFile: `${file}.pub`, type: keyType, base64, blob: Buffer.from(base64, 'base64') };
}

/** `host type base64` for a known_hosts line. */
function entry(host: string, key: TestKey): string {
  return `${host} ${key.type} ${key.base64}`;
}

/** Write plain lines and let `ssh-keygen -H` hash them, as users do with HashKnownHosts. */
function hashedKnownHosts(lines: string[]): string {
  const file = join(dir, `hashed-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, lines.join('\n') + '\n');
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  return readFileSync(file, 'utf8');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'known-hosts-test-'));
  ed25519 = generateKey('ed25519', 'ed25519');
  ed25519Other = generateKey('ed25519-other', 'ed25519');
  ecdsa = generateKey('ecdsa', 'ecdsa', '256');
  rsa = generateKey('rsa', 'rsa', '2048');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('key helpers', () => {
  it('reads the key type from the blob', () => {
    expect(keyTypeOf(ed25519.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(ecdsa.blob)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOf(rsa.blob)).toBe('ssh-rsa');
    expect(() => keyTypeOf(Buffer.from([0, 0, 0, 9, 1]))).toThrow();
  });

  it('prints the same SHA256 fingerprint as ssh-keygen -lf', () => {
    for (const key of [ed25519, ecdsa, rsa]) {
      const openssh = execFileSync('ssh-keygen', ['-lf', key.pubFile], { encoding: 'utf8' }).split(' ')[1];
      expect(fingerprintSha256(key.blob)).toBe(openssh);
    }
  });

  it('names the host as OpenSSH records it', () => {
    expect(hostKeyLookupName('DB1.example.com', 22)).toBe('db1.example.com');
    expect(hostKeyLookupName('db1', 2222)).toBe('[db1]:2222');
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank lines, unknown markers and malformed lines', () => {
    const entries = parseKnownHosts(
      [
        '# a comment',
        '',
        '   ',
        entry('h1', ed25519),
        `@bogus h2 ${ed25519.type} ${ed25519.base64}`,
        'h3 ssh-ed25519',
        `h4 ssh-rsa ${ed25519.base64}`, // declared type disagrees with the key
        `@revoked * ${ecdsa.type} ${ecdsa.base64}`,
        `@cert-authority *.example.com ${rsa.type} ${rsa.base64} ca`,
      ].join('\n'),
    );
    expect(entries.map((e) => [e.line, e.marker, e.keyType])).toEqual([
      [4, undefined, 'ssh-ed25519'],
      [8, 'revoked', 'ecdsa-sha2-nistp256'],
      [9, 'cert-authority', 'ssh-rsa'],
    ]);
  });
});

describe('checkHostKey', () => {
  it('knows a plain entry, case-insensitively', () => {
    const entries = parseKnownHosts(entry('db1.example.com,10.0.0.5', ed25519));
    expect(checkHostKey(entries, 'db1.example.com', 22, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'DB1.Example.com', 22, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, '10.0.0.5', 22, ed25519.blob)).toEqual({ status: 'known' });
  });

  it('keeps ports apart: [host]:port entries only match that port', () => {
    const entries = parseKnownHosts([entry('db1', ed25519), entry('[db2]:2222', ecdsa)].join('\n'));
    expect(checkHostKey(entries, 'db2', 2222, ecdsa.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db1', 2222, ed25519.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(entries, 'db2', 22, ecdsa.blob)).toEqual({ status: 'unknown' });
  });

  it('matches entries hashed by ssh-keygen -H, for both port forms', () => {
    const text = hashedKnownHosts([entry('db1', ed25519), entry('[db2]:2222', ecdsa)]);
    expect(text).not.toContain('db1');
    const entries = parseKnownHosts(text);
    expect(entries.every((e) => e.host.kind === 'hashed')).toBe(true);
    expect(checkHostKey(entries, 'db1', 22, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'DB1', 22, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db2', 2222, ecdsa.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db1', 2222, ed25519.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(entries, 'db2', 22, ecdsa.blob)).toEqual({ status: 'unknown' });
  });

  it('applies wildcards and negation like OpenSSH', () => {
    const entries = parseKnownHosts(entry('*.example.com,!bad.example.com,db?', ed25519));
    expect(checkHostKey(entries, 'pg.example.com', 22, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db7', 22, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db77', 22, ed25519.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(entries, 'bad.example.com', 22, ed25519.blob)).toEqual({ status: 'unknown' });
    // A plain wildcard does not reach a [host]:port lookup name.
    expect(checkHostKey(entries, 'pg.example.com', 2222, ed25519.blob)).toEqual({ status: 'unknown' });
    const withPort = parseKnownHosts(entry('[*.example.com]:*', ed25519));
    expect(checkHostKey(withPort, 'pg.example.com', 2222, ed25519.blob)).toEqual({ status: 'known' });
  });

  it('reports a different key of the same type as changed, with the known fingerprints', () => {
    const entries = parseKnownHosts(entry('db1', ed25519));
    expect(checkHostKey(entries, 'db1', 22, ed25519Other.blob)).toEqual({
      status: 'changed',
      knownFingerprints: [fingerprintSha256(ed25519.blob)],
    });
  });

  it('reports unknown when there is no entry, or only keys of other types', () => {
    expect(checkHostKey([], 'db1', 22, ed25519.blob)).toEqual({ status: 'unknown' });
    const entries = parseKnownHosts([entry('db1', ecdsa), entry('db1', rsa)].join('\n'));
    expect(checkHostKey(entries, 'db1', 22, ed25519.blob)).toEqual({ status: 'unknown' });
  });

  it('refuses a revoked key even when it is also listed as trusted', () => {
    const entries = parseKnownHosts([entry('db1', ed25519), `@revoked * ${ed25519.type} ${ed25519.base64}`].join('\n'));
    expect(checkHostKey(entries, 'db1', 22, ed25519.blob)).toEqual({ status: 'revoked' });
    expect(checkHostKey(entries, 'other', 2222, ed25519.blob)).toEqual({ status: 'revoked' });
    // As in OpenSSH, a @revoked line only covers the hosts it names.
    const scoped = parseKnownHosts(`@revoked db9 ${ed25519.type} ${ed25519.base64}`);
    expect(checkHostKey(scoped, 'db1', 22, ed25519.blob)).toEqual({ status: 'unknown' });
  });

  it('ignores @cert-authority lines for plain key matching', () => {
    const entries = parseKnownHosts(`@cert-authority db1 ${ed25519.type} ${ed25519.base64}`);
    expect(checkHostKey(entries, 'db1', 22, ed25519.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(entries, 'db1', 22, ed25519Other.blob)).toEqual({ status: 'unknown' });
  });
});

describe('host key algorithm preference', () => {
  it('lists the trusted key types of a host, without revoked or CA lines', () => {
    const entries = parseKnownHosts(
      [
        entry('db1', rsa),
        entry('[db1]:2222', ed25519),
        entry('db1', ecdsa),
        entry('db1', rsa),
        `@revoked db1 ${ed25519.type} ${ed25519.base64}`,
      ].join('\n'),
    );
    expect(knownKeyTypesFor(entries, 'db1', 22)).toEqual(['ssh-rsa', 'ecdsa-sha2-nistp256']);
    expect(knownKeyTypesFor(entries, 'db1', 2222)).toEqual(['ssh-ed25519']);
    expect(knownKeyTypesFor(entries, 'db3', 22)).toEqual([]);
  });

  it('puts known types first, expanding ssh-rsa to its signature algorithms', () => {
    expect(preferredHostKeyAlgorithms([])).toEqual([
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    expect(preferredHostKeyAlgorithms(['ssh-rsa', 'ecdsa-sha2-nistp384', 'sk-ssh-ed25519@openssh.com'])).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ecdsa-sha2-nistp384',
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp521',
    ]);
  });
});

describe('recording keys', () => {
  it('formats the line OpenSSH would write', () => {
    expect(knownHostsLine('db1', 22, ed25519.blob)).toBe(`db1 ssh-ed25519 ${ed25519.base64}`);
    expect(knownHostsLine('DB1', 2222, ecdsa.blob)).toBe(`[db1]:2222 ecdsa-sha2-nistp256 ${ecdsa.base64}`);
  });

  it('loads a missing file as empty', async () => {
    expect(await loadKnownHosts(join(dir, 'does-not-exist'))).toEqual([]);
  });

  it('creates directory and file with private modes, then the host is known', async () => {
    const file = join(dir, 'new-ssh-dir', 'known_hosts');
    await appendKnownHost(file, 'db1', 2222, ed25519.blob);
    expect(statSync(join(dir, 'new-ssh-dir')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const entries = await loadKnownHosts(file);
    expect(checkHostKey(entries, 'db1', 2222, ed25519.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db1', 22, ed25519.blob)).toEqual({ status: 'unknown' });
    // OpenSSH agrees that the line we wrote belongs to [db1]:2222.
    const found = execFileSync('ssh-keygen', ['-F', '[db1]:2222', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(ed25519.base64);
  });

  it('starts a new line when the file does not end with one', async () => {
    const file = join(dir, 'no-trailing-newline');
    writeFileSync(file, entry('db1', ecdsa));
    await appendKnownHost(file, 'db2', 22, ed25519.blob);
    expect(readFileSync(file, 'utf8')).toBe(`${entry('db1', ecdsa)}\n${entry('db2', ed25519)}\n`);
    const entries = await loadKnownHosts(file);
    expect(checkHostKey(entries, 'db1', 22, ecdsa.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(entries, 'db2', 22, ed25519.blob)).toEqual({ status: 'known' });
  });
});
