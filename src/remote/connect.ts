import { readFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client, type AuthenticationType, type ConnectConfig } from 'ssh2';
import type { Duplex } from 'node:stream';
import { WizardError } from '../errors.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypesFor,
  loadKnownHosts,
  preferredHostKeyAlgorithms,
} from './known-hosts.js';
import { loadSshConfig, resolveSshHost } from './ssh-config.js';
import { SshHost } from './ssh-host.js';
import { formatTarget, parseTarget, type TargetSpec } from './target.js';

/** What the operator is asked when a host presents a key known_hosts has never seen. */
export interface UnknownHostKey {
  role: string;
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
}
export type HostKeyDecision = 'trust-and-save' | 'trust-once' | 'reject';

export interface ConnectOptions {
  role: string;
  target: string;
  identity?: string;
  knownHostsFile?: string;
  sshConfigFile?: string;
  /** Absent when nobody can be asked (no TTY): unknown keys are then refused. */
  confirmHostKey?: (key: UnknownHostKey) => Promise<HostKeyDecision>;
  readyTimeoutMs?: number;
  /** ssh-agent socket (SSH_AUTH_SOCK, read by the options layer), tried before key files. */
  agentSocket?: string;
  /** The login user's sudo password, asked only when sudo wants one (the environment's, or the operator's). */
  sudoPassword?: (loginUser: string) => Promise<string | undefined>;
  /** How long a host may stay silent before its connection counts as lost (default 40 s). */
  deadAfterMs?: number;
}

/** README states this bound: a host that answers nothing for 40 s is given up on. */
export const defaultDeadAfterMs = 40_000;

/**
 * ssh2 pings every interval and gives up when the (count + 1)th tick finds the pings still
 * unanswered: ten pings per dead-after period, at least a second apart.
 */
export function keepalive(deadAfterMs = defaultDeadAfterMs): { intervalMs: number; countMax: number; deadAfterMs: number } {
  const intervalMs = Math.max(1000, Math.round(deadAfterMs / 10));
  const ticks = Math.max(2, Math.round(deadAfterMs / intervalMs));
  return { intervalMs, countMax: ticks - 1, deadAfterMs: ticks * intervalMs };
}

export const defaultKnownHostsFile = () => join(homedir(), '.ssh', 'known_hosts');
const defaultIdentityFiles = () => ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f));

interface ResolvedTarget {
  user: string;
  host: string;
  port: number;
  identityFiles: string[];
  proxyJump?: string;
}

async function resolveTarget(spec: TargetSpec, options: ConnectOptions): Promise<ResolvedTarget> {
  const config = await loadSshConfig(options.sshConfigFile);
  const fromConfig = resolveSshHost(config, spec.host, undefined, { user: spec.user, port: spec.port });
  const identityFiles = options.identity
    ? [options.identity]
    : fromConfig.identityFiles.length > 0
      ? fromConfig.identityFiles
      : defaultIdentityFiles();
  return {
    user: fromConfig.user ?? userInfo().username,
    host: fromConfig.hostName,
    port: fromConfig.port ?? 22,
    identityFiles,
    proxyJump: fromConfig.proxyJump,
  };
}

// Deeper than any real chain; a jump host whose own ProxyJump leads back loops forever in ssh.
const MAX_JUMP_HOPS = 10;

/**
 * The jump hosts to pass through, in order, as `ssh -J a,b,c` does: through a to b, through b
 * to c, through c to the target. Only the first hop's own ProxyJump applies (ssh starts it
 * without -J); the later hops are reached through the list.
 */
async function jumpHops(target: ResolvedTarget, options: ConnectOptions, depth = 0): Promise<ResolvedTarget[]> {
  if (!target.proxyJump) return [];
  if (depth >= MAX_JUMP_HOPS) {
    throw new WizardError(
      `more than ${MAX_JUMP_HOPS} jump hosts: the ProxyJump settings of the jump hosts lead in a loop`,
      `ProxyJump for ${options.role}`,
      'check the ProxyJump lines of the jump hosts in the ssh config (ssh -G <host> | grep proxyjump)',
    );
  }
  const hops = await Promise.all(
    target.proxyJump.split(',').map((hop) => resolveTarget(parseTarget(hop, 'ProxyJump'), options)),
  );
  const [firstHop, ...laterHops] = hops;
  return [...(await jumpHops(firstHop, options, depth + 1)), { ...firstHop, proxyJump: undefined }, ...laterHops.map((hop) => ({ ...hop, proxyJump: undefined }))];
}

/** Opens the one SSH connection used for everything on this host, verifying every host key on the way. */
export async function connectHost(options: ConnectOptions): Promise<SshHost> {
  const spec = parseTarget(options.target, `--${options.role}`);
  const target = await resolveTarget(spec, options);
  const where = `${options.role} ${formatTarget(spec)}`;
  const hops = await jumpHops(target, options);
  const jumpClients: Client[] = [];
  // Closing the host must close the jump connections too, or the process never exits.
  const closeJumps = () => jumpClients.forEach((client) => client.end());
  let client: Client;
  let link: Duplex;
  try {
    let sock: Duplex | undefined;
    for (const [index, hop] of hops.entries()) {
      const next = hops[index + 1] ?? target;
      const hopWhere = `jump host ${formatTarget(hop)} for ${where}`;
      const { client: hopClient } = await openClient(hop, { ...options, role: `${options.role} jump host` }, hopWhere, sock);
      jumpClients.push(hopClient);
      sock = await forwardTo(hopClient, next, hopWhere);
    }
    ({ client, link } = await openClient(target, options, where, sock));
  } catch (error) {
    closeJumps();
    throw error;
  }
  client.once('close', closeJumps);
  const { intervalMs, deadAfterMs } = keepalive(options.deadAfterMs);
  const host = new SshHost(options.role, formatTarget(spec), target.host, client, { link, keepaliveMs: intervalMs, deadAfterMs });
  try {
    await host.identify(options.sudoPassword);
  } catch (error) {
    await host.close();
    throw error;
  }
  return host;
}

/** A channel through `jump` to the next host's SSH port, as `ssh -W host:port`. */
function forwardTo(jump: Client, next: ResolvedTarget, where: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, next.host, next.port, (error, stream) => {
      if (error) reject(new WizardError(`the jump host could not reach ${next.host}:${next.port}: ${error.message}`, where, 'check that address from the jump host, and that its sshd allows TCP forwarding'));
      else resolve(stream);
    });
  });
}

/** The SSH client and the byte stream it runs over (a TCP socket, or a channel through a jump host). */
async function openClient(target: ResolvedTarget, options: ConnectOptions, where: string, sock?: Duplex): Promise<{ client: Client; link: Duplex }> {
  const knownHostsFile = options.knownHostsFile ?? defaultKnownHostsFile();
  const knownEntries = await loadKnownHosts(knownHostsFile);
  const authMethods = await authenticationMethods(target, options.agentSocket);
  let hostKeyProblem: WizardError | undefined;

  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    readyTimeout: options.readyTimeoutMs ?? 15_000,
    // A dead peer (network down, host gone) is noticed within deadAfterMs instead of hanging.
    keepaliveInterval: keepalive(options.deadAfterMs).intervalMs,
    keepaliveCountMax: keepalive(options.deadAfterMs).countMax,
    algorithms: {
      serverHostKey: preferredHostKeyAlgorithms(knownKeyTypesFor(knownEntries, target.host, target.port)) as never,
    },
    authHandler: authMethods.methods as never,
    hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
      decideHostKey(key, target, options, knownEntries, knownHostsFile, where).then(
        () => verify(true),
        (error: WizardError) => {
          hostKeyProblem = error;
          verify(false);
        },
      );
    },
  };

  const client = new Client();
  // Our own socket rather than ssh2's: the host watches what arrives on it to tell a stall.
  // Created here, right before ssh2 listens for its errors.
  const link = sock ?? tcpConnect(target.port, target.host);
  config.sock = link;
  return new Promise((resolve, reject) => {
    client.once('ready', () => {
      // Many small request/response exchanges (SQL over the relay, short commands): without
      // TCP_NODELAY, Nagle plus the server's delayed ACK add ~40 ms to each.
      client.setNoDelay(true);
      // A connection lost later surfaces through the channels in use; it must not crash the process.
      client.on('error', () => undefined);
      resolve({ client, link });
    });
    client.once('error', (error: Error & { level?: string; code?: string }) => {
      client.end();
      reject(hostKeyProblem ?? connectionError(error, target, where, authMethods.notes));
    });
    client.connect(config);
  });
}

async function decideHostKey(
  key: Buffer,
  target: ResolvedTarget,
  options: ConnectOptions,
  entries: Awaited<ReturnType<typeof loadKnownHosts>>,
  knownHostsFile: string,
  where: string,
): Promise<void> {
  const fingerprint = fingerprintSha256(key);
  const keyType = keyTypeOf(key);
  const verdict = checkHostKey(entries, target.host, target.port, key);
  if (verdict.status === 'known') return;
  if (verdict.status === 'changed' || verdict.status === 'revoked') {
    const was = verdict.status === 'changed' ? ` (known_hosts has ${verdict.knownFingerprints.join(', ')})` : '';
    throw new WizardError(
      `REMOTE HOST KEY ${verdict.status === 'changed' ? 'HAS CHANGED' : 'IS REVOKED'}: ${target.host} port ${target.port} presented ${keyType} ${fingerprint}${was}. Someone may be intercepting the connection; nothing was sent.`,
      where,
      `if the server was really reinstalled, confirm the new fingerprint out of band, then remove the old entry with: ssh-keygen -R ${knownHostsHostArg(target)} -f ${knownHostsFile}`,
    );
  }
  const decision = options.confirmHostKey
    ? await options.confirmHostKey({ role: options.role, host: target.host, port: target.port, keyType, fingerprint })
    : 'reject';
  if (decision === 'trust-and-save') await appendKnownHost(knownHostsFile, target.host, target.port, key);
  if (decision === 'reject') {
    throw new WizardError(
      `host key of ${target.host} port ${target.port} is not in ${knownHostsFile}: it presented ${keyType} ${fingerprint}`,
      where,
      `compare that fingerprint with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it); if it matches, run interactively and accept it, or add this line to ${knownHostsFile}: ${knownHostsLine(target.host, target.port, key)}`,
    );
  }
}

const knownHostsHostArg = (target: ResolvedTarget) => (target.port === 22 ? target.host : `[${target.host}]:${target.port}`);

interface AuthMethods {
  methods: AuthenticationType[] | object[];
  notes: string[];
}

async function authenticationMethods(target: ResolvedTarget, agentSocket: string | undefined): Promise<AuthMethods> {
  const methods: object[] = [];
  const notes: string[] = [];
  if (agentSocket) {
    methods.push({ type: 'agent', username: target.user, agent: agentSocket });
    notes.push('ssh-agent');
  }
  for (const file of target.identityFiles) {
    let key: Buffer;
    try {
      key = await readFile(file);
    } catch {
      continue;
    }
    if (isEncryptedKey(key)) {
      notes.push(`${file} (encrypted: load it into ssh-agent)`);
      continue;
    }
    methods.push({ type: 'publickey', username: target.user, key });
    notes.push(file);
  }
  return { methods, notes };
}

function isEncryptedKey(key: Buffer): boolean {
  const text = key.toString('latin1');
  if (text.includes('ENCRYPTED')) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text)?.[1];
  if (!body) return false;
  // openssh-key-v1: magic, then the cipher name; "none" means no passphrase.
  const raw = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const cipherLength = raw.readUInt32BE(15);
  return raw.subarray(19, 19 + cipherLength).toString() !== 'none';
}

function connectionError(error: Error & { level?: string; code?: string }, target: ResolvedTarget, where: string, tried: string[]): WizardError {
  const address = `${target.host} port ${target.port}`;
  if (error.level === 'client-authentication') {
    return new WizardError(
      `SSH login as ${target.user} to ${address} was refused (tried: ${tried.join(', ') || 'no key found'})`,
      where,
      `check the user name and that the public key is in ~${target.user}/.ssh/authorized_keys there; pass another key with -i/--identity`,
    );
  }
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'nothing listens there (sshd not running, or wrong port)',
    EHOSTUNREACH: 'no route to that host',
    ENETUNREACH: 'no route to that network',
    ENOTFOUND: 'that host name does not resolve',
    EAI_AGAIN: 'that host name could not be resolved now',
    ETIMEDOUT: 'the connection timed out (firewall, or wrong address)',
  };
  const reason = (error.code && reasons[error.code]) || (/Timed out/.test(error.message) ? 'the SSH handshake timed out' : error.message);
  return new WizardError(
    `cannot reach ${address} over SSH: ${reason}`,
    where,
    'check the host name or address and the SSH port (user@host:port), and that sshd runs there',
  );
}
