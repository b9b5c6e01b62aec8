import { describe, expect, it } from 'vitest';
import {
  md5Verifier,
  passwordMethodFor,
  saslPrep,
  scramVerifier,
  verifierAccepts,
  verifierMethod,
} from '../../steps/lib/password-verifier.js';

// Written by PostgreSQL 15 itself (CREATE ROLE … PASSWORD 'known', read back from pg_authid).
const serverScram =
  'SCRAM-SHA-256$4096:94y2ta2YYM4ZcNnIvEabdA==$eXhDcQFJ0hbMqXRgBslVGMcy9Mdy7fuTyJ6cdWBlCVc=:gLb0pZB4fO6gQR0QQAtTsT3PASPz4fo3JwAb0Qhr1Zg=';
const serverMd5 = 'md5db45fe933d63abbf230104c7d8cc1e06'; // role pgw_vector_md5, password 'known'
// PASSWORD E'p\u00e4ss\u00a0w\u00adord\uff21': a no-break space, a soft hyphen and a full-width A.
const serverScramUnicode =
  'SCRAM-SHA-256$4096:3SpYBSK0LS1ypJq2DLxaeg==$HlMNlorQlAbLW5Yggx+NFehbO83IKVNy8hr7WQyOsfw=:izrSkNubZPBm5jTpBN9kfhLZZTlOMIN/yoEOPYP8OKY=';

describe('password verifiers', () => {
  it('accepts the password behind a verifier PostgreSQL wrote, and nothing else', () => {
    expect(verifierAccepts(serverScram, 'known', 'anyone')).toBe(true);
    expect(verifierAccepts(serverScram, 'Known', 'anyone')).toBe(false);
    expect(verifierAccepts(serverScram, 'known ', 'anyone')).toBe(false);
    expect(verifierAccepts(serverMd5, 'known', 'pgw_vector_md5')).toBe(true);
    expect(verifierAccepts(serverMd5, 'known', 'another_role')).toBe(false);
    expect(verifierAccepts(null, 'known', 'repl')).toBe(false);
  });

  it('computes the same SCRAM verifier as the server for the same salt', () => {
    const salt = Buffer.from('94y2ta2YYM4ZcNnIvEabdA==', 'base64');
    expect(scramVerifier('known', salt)).toBe(serverScram);
    expect(md5Verifier('known', 'pgw_vector_md5')).toBe(serverMd5);
  });

  it('salts every new verifier afresh, in the format PostgreSQL stores', () => {
    const [a, b] = [scramVerifier('secret'), scramVerifier('secret')];
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(verifierAccepts(a, 'secret', 'repl') && verifierAccepts(b, 'secret', 'repl')).toBe(true);
  });

  it('normalizes non-ASCII passwords with SASLprep as the server does', () => {
    expect(saslPrep('plain ascii')).toBe('plain ascii');
    expect(saslPrep('p\u00e4ss\u00a0w\u00adord\uff21')).toBe('p\u00e4ss wordA');
    expect(verifierAccepts(serverScramUnicode, 'p\u00e4ss\u00a0w\u00adord\uff21', 'x')).toBe(true);
    expect(verifierAccepts(serverScramUnicode, 'p\u00e4ss wordA', 'x')).toBe(true);
    expect(verifierAccepts(serverScramUnicode, 'pass wordA', 'x')).toBe(false);
  });

  it('tells the stored kind, and uses md5 only where an older server keeps it', () => {
    expect(verifierMethod(serverScram)).toBe('scram-sha-256');
    expect(verifierMethod(serverMd5)).toBe('md5');
    expect(verifierMethod('plaintext')).toBeUndefined();
    expect(passwordMethodFor(13, 'md5')).toBe('md5');
    expect(passwordMethodFor(12, 'on')).toBe('md5');
    expect(passwordMethodFor(13, 'scram-sha-256')).toBe('scram-sha-256');
    expect(passwordMethodFor(15, 'md5')).toBe('scram-sha-256');
  });
});
