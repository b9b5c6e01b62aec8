import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { serverHome, sourceAddressTowards } from '../facts/host.js';
import type { Io } from '../io.js';
import { passwordEnv, shortPasswordProblem, slotNameProblem, type Options } from '../options.js';
import type { Pair, PairFacts } from '../session.js';
import { toNode, type ReplicationTls, type SetupSettings } from '../../steps/contract.js';
import { findPassfileEntry } from '../../steps/lib/passfile.js';
import { storedPasswordProof } from '../../steps/replication-role.js';

/** A replication slot name PostgreSQL accepts: lower-case letters, digits, underscores, ≤ 63. */
export function slotNameFor(standbyHost: string): string {
  return `pgrepl_${standbyHost.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/** Why a role name is refused (quoting-free names only), or undefined when it is fine. */
export const roleNameProblem = (name: string) =>
  /^[a-z_][a-z0-9_]{0,62}$/.test(name) ? undefined : `"${name}" is not a plain lower-case role name (letters, digits, underscores)`;

export { slotNameProblem } from '../options.js';

/** --tablespace-map OLD=NEW[,OLD=NEW]: absolute paths only (pg_basebackup --tablespace-mapping requires them). */
export function parseTablespaceMap(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const map: Record<string, string> = {};
  for (const entry of value.split(',').filter(Boolean)) {
    const [from, to, extra] = entry.split('=');
    if (extra !== undefined || !from?.startsWith('/') || !to?.startsWith('/')) {
      throw new UsageError(`--tablespace-map "${entry}" is not OLD=NEW with two absolute paths`, 'e.g. --tablespace-map /data/ts1=/srv/ts1,/data/ts2=/srv/ts2');
    }
    map[from.replace(/(.)\/+$/, '$1')] = to.replace(/(.)\/+$/, '$1');
  }
  return map;
}

/**
 * Settles every answer the steps need before any of them runs, from flags, config, the
 * environment, what a previous run left on the standby, or the operator.
 */
/** The replication role setup creates unless --role names another. */
export const defaultRoleName = 'repl';

export async function resolveSettings(pair: Pair, facts: PairFacts, options: Options, io: Io): Promise<SetupSettings> {
  const checkpoint = options.checkpoint ?? 'fast';
  if (checkpoint !== 'fast' && checkpoint !== 'spread') {
    throw new UsageError(`--checkpoint "${checkpoint}" is neither fast nor spread`, 'pass --checkpoint fast or --checkpoint spread');
  }
  const roleName = options.role ?? defaultRoleName;
  const roleProblem = roleNameProblem(roleName);
  if (roleProblem) throw new UsageError(`--role ${roleProblem}`, 'use letters, digits and underscores, e.g. --role repl');
  const slotName = options.slot ?? slotNameFor(pair.standby.address);
  const slotProblem = slotNameProblem(slotName);
  if (slotProblem) throw new UsageError(`--slot ${slotProblem}`, 'use lower-case letters, digits and underscores (at most 63)');
  const primaryAddress = options.primaryAddress ?? pair.primary.address;
  // Independent reads, asked together.
  const [standbyAddress, passfile] = await Promise.all([
    options.standbyAddress ?? sourceAddressTowards(pair.standby, primaryAddress, '--standby-address'),
    serverHome(pair.standby).then((home) => `${home}/.pgpass`),
  ]);
  const [primaryListenAddress, existing] = await Promise.all([
    sourceAddressTowards(pair.primary, standbyAddress, '--primary-address'),
    pair.standby.readFile(passfile, 'postgres'),
  ]);
  const port = facts.primary.cluster!.ref.port;

  const given = options.password ?? '';
  const rotate = Boolean(options.rotatePassword);
  const stored = existing === null ? undefined : findPassfileEntry(existing, primaryAddress, port, roleName);
  let password = '';
  let passwordGenerated = false;
  let keptPassword: SetupSettings['keptPassword'];
  if (stored !== undefined && !rotate) {
    // The standby logs in with it today: changing it here would break the pair at its next connection.
    const proof = await storedPasswordProof(toNode(pair.primary, facts.primary), toNode(pair.standby, facts.standby), { primaryAddress, roleName, passfile }, stored);
    if (proof) {
      password = stored;
      keptPassword = { proof, givenIgnored: given !== '' && given !== stored };
    }
  }
  // A previous run (or the operator) stored it for the walreceiver: reused unless a rotation was asked for.
  password ||= given || (rotate ? '' : (stored ?? ''));
  if (!password && io.interactive && !options.yes && !options.plan) {
    password = await io.askSecret(`${rotate ? 'New password' : 'Password'} for replication role ${roleName} (empty: generate a strong one):`, passwordEnv);
    const tooShort = password ? shortPasswordProblem(password, 'the password typed') : undefined;
    if (tooShort) throw tooShort;
  }
  if (!password) {
    password = randomBytes(24).toString('base64url');
    passwordGenerated = true;
  }
  if (options.standbyArchiveDir !== undefined && (options.archiveDir === undefined || !options.standbyArchiveDir.startsWith('/'))) {
    throw new UsageError(
      `--standby-archive-dir ${options.standbyArchiveDir} needs --archive-dir and an absolute path`,
      "name the archive on the primary with --archive-dir and where the standby mounts that same directory with --standby-archive-dir (usually the same path)",
    );
  }
  return {
    tls: await replicationTls(options, facts, passfile, slotName),
    roleName,
    password,
    passwordGenerated,
    keptPassword,
    rotatePassword: rotate,
    slotName,
    primaryAddress,
    standbyAddress,
    primaryListenAddress,
    walLogHints: walLogHints(facts, options),
    archiveDir: options.archiveDir,
    standbyArchiveDir: options.standbyArchiveDir,
    checkpoint,
    keepOldData: !options.discardOldData,
    tablespaceMap: parseTablespaceMap(options.tablespaceMap),
    passfile,
    streamingWaitMs: options.streamingWaitMs,
  };
}

const enabled = (value: string | undefined) => /^(on|true|yes|1)$/i.test(value ?? '');

/**
 * --wal-log-hints: without data checksums or wal_log_hints pg_rewind refuses to rewind either
 * server, and a forked standby (or a former primary) can only be cloned again. Set only when
 * asked for, not by a question of its own: the plan's pg_rewind-ready precheck says what is
 * missing and names the flag, and the restart it needs is confirmed with the others.
 */
function walLogHints(facts: PairFacts, options: Options): boolean {
  const settings = facts.primary.cluster?.settings;
  if (enabled(settings?.data_checksums?.value) || enabled(settings?.wal_log_hints?.value)) return false;
  return Boolean(options.walLogHints);
}

/**
 * TLS for replication when the primary has ssl = on: verify-full against the CA the operator
 * names (copied next to the passfile, in ~/.postgresql), else require.
 */
async function replicationTls(options: Options, facts: PairFacts, passfile: string, slotName: string): Promise<ReplicationTls | undefined> {
  const ssl = facts.primary.cluster?.settings.ssl?.value;
  if (ssl !== 'on') {
    if (options.sslRootCert) {
      throw new UsageError(
        `--ssl-root-cert was given, but the primary has ssl = ${ssl ?? 'unknown'}: it offers no TLS to verify`,
        "turn ssl on in the primary's postgresql.conf (ssl_cert_file, ssl_key_file signed by that CA) and restart it, or leave --ssl-root-cert out",
      );
    }
    return undefined;
  }
  if (!options.sslRootCert) return { sslmode: 'require' };
  let pem: string;
  try {
    pem = await readFile(options.sslRootCert, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --ssl-root-cert ${options.sslRootCert}: ${(error as NodeJS.ErrnoException).code ?? error}`, 'name the PEM file of the CA that signed the primary\'s certificate');
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(`--ssl-root-cert ${options.sslRootCert} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`, "name the CA's certificate in PEM form (openssl x509 -in CA -outform PEM)");
  }
  return { sslmode: 'verify-full', rootCert: `${dirname(passfile)}/.postgresql/pgrepl-${slotName}-ca.crt`, rootCertPem: pem };
}
