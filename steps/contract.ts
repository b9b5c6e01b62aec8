import type { Host, Side } from '../src/remote/host.js';
import { WizardError } from '../src/errors.js';
import type { ClusterFacts, HostFacts } from '../src/facts/host.js';
import type { LiveCluster } from '../src/facts/live.js';

/**
 * The contract every setup step follows, so the Ink screens, the headless command and
 * `--plan` drive them the same way:
 *   check  → is it already done? (re-runs skip it)
 *   plan   → the printable actions: exact commands, SQL and config diffs, per host
 *   apply  → do it (only after the plan was shown and, where destructive, confirmed)
 *   verify → prove the effect from the server's own view, or throw a WizardError
 * Steps import no ink/react and never print: they talk through the context.
 */

export type { Side };

/** One side of the pair as the steps see it: the connection, the chosen cluster and where it listens (absent when it was stopped at discovery). */
export interface Node extends LiveCluster {
  /** Discovered before the run; live state is always re-read from the server. */
  facts: ClusterFacts;
}

/** The chosen cluster of a discovered host as steps see it. */
export function toNode(host: Host, facts: HostFacts): Node {
  if (!facts.cluster) throw new WizardError('no cluster was chosen', `${host.role} ${host.label}`, `pass --${host.role}-cluster`);
  return { host, cluster: facts.cluster.ref, facts: facts.cluster, address: facts.cluster.address };
}

export interface SetupSettings {
  /** Replication role on the primary (default repl). */
  roleName: string;
  /** Its password; never printed, never in argv. */
  password: string;
  /** True when nobody gave a password and none was stored: this one was generated. */
  passwordGenerated: boolean;
  /**
   * Set when the standby's passfile already held the role's working password and it was kept:
   * how that was proven, and whether PGREPL_PASSWORD named another one (ignored).
   */
  keptPassword?: { proof: string; givenIgnored: boolean };
  /** --rotate-password: `password` is a new one, set on the primary and in the standby's passfile. */
  rotatePassword?: boolean;
  slotName: string;
  /** Address the standby uses to reach the primary (default: the primary's SSH address). */
  primaryAddress: string;
  /** Source address the primary sees for the standby's connections (detected with `ip route get`). */
  standbyAddress: string;
  /** Address of the primary's interface facing the standby (for listen_addresses). */
  primaryListenAddress: string;
  /**
   * wal_log_hints = on on the primary (ALTER SYSTEM; the clone gives the standby the same
   * postgresql.auto.conf), so that pg_rewind can later rewind either server.
   */
  walLogHints?: boolean;
  /** Enables WAL archiving into this directory on the primary when set. */
  archiveDir?: string;
  /**
   * The same archive as the standby reads it (a shared mount): the standby gets restore_command
   * and archive_cleanup_command for it. Only with archiveDir.
   */
  standbyArchiveDir?: string;
  /**
   * The standby's own restore_command and archive_cleanup_command before a repair (doctor):
   * written again where a re-clone (or a rewind) left them out, since the copy brings the
   * primary's postgresql.auto.conf and no recovery.conf; the rewind's --restore-target-wal
   * and the stray-timeline step go by its restore_command.
   */
  keptArchive?: Record<string, string>;
  checkpoint: 'fast' | 'spread';
  /** Keep the standby's previous data directory, renamed, after the clone (default true). */
  /**
   * Where the standby keeps each of the primary's tablespaces (primary location → standby
   * path); a location not named here keeps the primary's path (--tablespace-map).
   */
  tablespaceMap?: Record<string, string>;
  keepOldData: boolean;
  /** Where the standby keeps the replication password (0600, owner: the server's OS user). */
  passfile: string;
  /** TLS for the replication connection, when the primary has ssl = on. */
  tls?: ReplicationTls;
  /**
   * Clone even when the standby already is a copy of the primary: doctor's repair for a
   * standby that lost WAL it needs or whose history forked (default false).
   */
  reclone?: boolean;
  /** How long the last step waits for streaming, and for the canary (PGREPL_STREAMING_TIMEOUT; default 60 s and 30 s). */
  streamingWaitMs?: number;
}

/**
 * libpq's sslmode for the standby's connections to the primary: verify-full with the CA the
 * operator named (the primary's certificate must be signed by it and name the address the
 * standby connects to), else require (encrypted, but the primary's identity is not checked).
 */
export interface ReplicationTls {
  /** verify-full or require from setup; doctor keeps whatever the standby's primary_conninfo has. */
  sslmode: string;
  /** sslrootcert: where the standby keeps the CA certificate. */
  rootCert?: string;
  /** The CA certificate (PEM) to copy there, read on the workstation (--ssl-root-cert). */
  rootCertPem?: string;
}

export interface PlannedAction {
  side: Side;
  summary: string;
  /** The exact argv that will run (the runbook shows it shell-quoted). */
  command?: readonly string[];
  /** SQL that will run, with any secret replaced by a placeholder. */
  sql?: string;
  /** Unified diff of a config file change. */
  diff?: string;
  /**
   * Replaces data, restarts a server or moves files out of the WAL archive: needs an explicit
   * confirmation (interactive: a question, the standby's host name typed for
   * replace-standby-data; headless: --yes, and --restart-primary for a primary restart).
   */
  destructive?: 'restart-primary' | 'replace-standby-data' | 'move-archive-files';
}

export interface Progress {
  stepId: string;
  doneKb: number;
  totalKb: number;
  percent: number;
  /** kB/s over the last updates; ETA in seconds when it can be estimated. */
  rateKbps?: number;
  etaSeconds?: number;
  message?: string;
}

/** A change the run made, for the final summary: what, where, how to undo. */
export interface ChangeRecord {
  side: Side;
  what: string;
  backup?: string;
  undo?: string;
}

export interface StepContext {
  /** The server the standby clones and streams from: the primary, or in a cascade its upstream standby. */
  primary: Node;
  standby: Node;
  /**
   * In a cascade (primary is then an upstream standby, read-only): the real primary, where
   * the replication role is written and the canary is emitted. Absent otherwise.
   */
  origin?: Node;
  settings: SetupSettings;
  signal: AbortSignal;
  /** Asks for an explicit yes before something destructive; false means stop without doing it. */
  confirm(action: PlannedAction): Promise<boolean>;
  progress(update: Progress): void;
  /** A line for the operator (and the JSON detail): what is happening now. */
  note(line: string): void;
  recordChange(change: ChangeRecord): void;
}

export interface CheckResult {
  done: boolean;
  detail: string;
}

export interface Step {
  id: string;
  title: string;
  /** The title in a cascade, where the step acts on the upstream standby instead of the primary. */
  upstreamTitle?: string;
  check(ctx: StepContext): Promise<CheckResult>;
  plan(ctx: StepContext): Promise<PlannedAction[]>;
  /** Returns a one-line detail of what was done. */
  apply(ctx: StepContext): Promise<string>;
  /** Returns what was proven; throws a WizardError when the effect is not there. */
  verify(ctx: StepContext): Promise<string>;
  /**
   * What the servers hold when a lost SSH connection cut `apply` short, for the message
   * (e.g. "the primary was being restarted: …"); without it the runner says the step will be
   * checked again.
   */
  cutShort?(ctx: StepContext): string;
}

/** The server that accepts writes: the primary, which in a cascade is not the one streamed from. */
export const writableServer = (ctx: StepContext): Node => ctx.origin ?? ctx.primary;

export const where = (node: Node) => `${node.host.role} ${node.host.label}`;

/** What became of a step in a run (the runner's report, drawn by the views and the headless reporter). */
export type StepStatus = 'done' | 'already-done' | 'failed' | 'skipped' | 'planned';

export interface StepResult {
  id: string;
  title: string;
  status: StepStatus;
  detail: string;
  /** What the step told the operator on the way (precheck outcomes, warnings). */
  notes?: string[];
  /** Wall time of the step, for the summary and the benchmark. */
  durationMs?: number;
  /** kB the step copied by its last progress report (the clone's pg_basebackup, pg_rewind), for the summary and the benchmark. */
  copiedKb?: number;
  actions?: PlannedAction[];
  error?: { message: string; where?: string; fix?: string };
}
