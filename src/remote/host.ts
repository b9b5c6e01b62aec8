import type { Duplex } from 'node:stream';
import type { PrivilegedArgv, RunAs } from './commands.js';

export type { RunAs } from './commands.js';

/**
 * The one interface every step, check and screen uses to touch a server. The real
 * implementation runs over a single ssh2 connection per host (ssh-host.ts); unit tests use
 * a fake. Commands are argv arrays, never shell strings.
 */
import { commandLine } from './quote.js';
import { sudoWithPassword, type SudoPassword } from './sudo.js';

/** Which end of the replication pair a host or a finding is on. */
export type Side = 'primary' | 'standby';


export interface ExecOptions<As extends RunAs = RunAs> {
  /** Root and the server's OS user run only argv made by src/remote/commands.ts for that user. */
  as?: As;
  /**
   * With `as: 'postgres'`: run as this OS user instead of the chosen server's (the owner of a
   * cluster found before one is chosen).
   */
  user?: string;
  /** Sent on the command's stdin, then closed. Secrets and SQL travel this way, never in argv. */
  stdin?: string | Buffer;
  /**
   * Instead of `stdin` and a collected stdout: the command's stdin reads from this stream and
   * its stdout writes into it (a byte relay between two hosts; `stdout` is then empty).
   */
  stream?: Duplex;
  /** Called with each stderr chunk as it arrives (progress output). */
  onStderr?: (chunk: string) => void;
  /** Ends the command on the host (its process group) when it aborts, like an interruption of the run. */
  signal?: AbortSignal;
  /** Not ended by an interruption of the run: a process that lives until its own `signal` (the run lock's holder). */
  outlivesInterruption?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  /** What the command itself wrote; the privilege wrapper's own lines are in `wrapperStderr`. */
  stderr: string;
  /** sudo's or runuser's own messages ("sudo: unable to resolve host …", "sudo: a password is required"). */
  wrapperStderr?: string;
}

export interface WriteFileOptions {
  as?: RunAs;
  /** Octal mode for a new file, e.g. '600'. An existing file keeps its mode and owner. */
  mode?: string;
  /**
   * Secret content (a password): the file is this OS user's alone, mode 0600 from its first
   * byte, whatever mode and owner an existing file had. Changing the owner needs `as: 'root'`
   * unless it is the user the write runs as.
   */
  secretOwner?: string;
}

/** What exec accepts for a user: any argv as the login user, only registered ones as root or postgres. */
export type ArgvFor<As extends RunAs> = [As] extends ['login'] ? readonly string[] : PrivilegedArgv<Exclude<As, 'login'>>;

/** Where a PostgreSQL cluster listens on its own host: its Unix socket directory and port. */
export interface ClusterAddress {
  port: number;
  socketDir: string;
  /**
   * A session of its own by this name, beside the shared one: for a statement that may wait
   * long (a commit held by synchronous replication), so the queries queued behind it in the
   * shared session (e.g. the one that cancels it) are not held too.
   */
  session?: string;
}

export type SqlRow = Record<string, unknown>;

export interface Host {
  /** "primary" or "standby": which side of the pair this host is. */
  readonly role: string;
  /** How the operator named it, e.g. labadmin@10.77.0.11; used in every message. */
  readonly label: string;
  /** The address the SSH connection reached (after ~/.ssh/config HostName). */
  readonly address: string;
  readonly loginUser: string;
  /**
   * The OS user RunAs 'postgres' becomes and SQL connects as (peer authentication maps it to
   * the role of the same name that initdb made): the owner of the chosen cluster's data
   * directory, set once the cluster is chosen; `postgres` before that.
   */
  serverUser: string;
  /** Runs argv; resolves with the exit code, never rejects on a non-zero one. */
  exec<As extends RunAs = 'login'>(argv: ArgvFor<As>, options?: ExecOptions<As>): Promise<ExecResult>;
  /** Runs argv; rejects with a WizardError naming the host and the command's stderr on failure. */
  run<As extends RunAs = 'login'>(argv: ArgvFor<As>, options?: ExecOptions<As>): Promise<string>;
  /** A file's text, or null when it does not exist. */
  readFile(path: string, as?: RunAs): Promise<string | null>;
  /** Replaces a file atomically (temporary file in the same directory, then rename). */
  writeFile(path: string, content: string, options?: WriteFileOptions): Promise<void>;
  /** Runs one statement as the server's OS user over the cluster's Unix socket (peer auth). */
  sql<Row extends SqlRow = SqlRow>(cluster: ClusterAddress, text: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
  /**
   * Calls `listener` with a line for the operator whenever the connection stalled and came
   * back (a network blip ridden out); returns the unsubscribe. Absent on fakes.
   */
  watchConnection?(listener: (line: string) => void): () => void;
  /**
   * Aborts, with the ConnectionLost as its reason, the moment the connection is lost (not when
   * the run closes it): for work on the other host that cannot finish without this one. Absent on fakes.
   */
  readonly lossSignal?: AbortSignal;
  /**
   * From now on, a command or query still running on this host when `signal` aborts (Ctrl-C,
   * SIGTERM, SIGHUP) is ended there, its process group with it, and rejects with
   * CommandInterrupted; commands started after the abort (the cleanup) run as usual. Absent on fakes.
   */
  endCommandsOn?(signal: AbortSignal): void;
}

/**
 * Prefix that makes argv run as the wanted user, given who we logged in as. With `sudo`, the
 * password the operator gave for this host, sudo may ask for it (see sudo.ts).
 */
export function privilegeWrapper(loginUser: string, as: RunAs, serverUser = 'postgres', sudo?: SudoPassword): string[] {
  if (as === 'login' || loginUser === (as === 'root' ? 'root' : serverUser)) return [];
  if (loginUser === 'root') return as === 'postgres' ? ['runuser', '-u', serverUser, '--'] : [];
  if (sudo) return sudoWithPassword(sudo, as === 'postgres' ? serverUser : undefined);
  // -n: fail at once instead of waiting for a password nobody will type.
  return as === 'postgres' ? ['sudo', '-n', '-u', serverUser, '--'] : ['sudo', '-n', '--'];
}

/**
 * argv as the operator types it on that host to run it as root or as the server's OS user (an
 * undo line): with sudo only where their own login is not already that user.
 */
export function byHandLine(host: Pick<Host, 'loginUser' | 'serverUser'>, as: 'root' | 'postgres', argv: readonly string[]): string {
  const user = as === 'root' ? 'root' : host.serverUser;
  if (host.loginUser === user) return commandLine(argv);
  return commandLine([...(as === 'root' ? ['sudo'] : ['sudo', '-u', user]), ...argv]);
}

// sudo and runuser prefix their own messages with their name; the commands they run never do.
const wrapperLine = /^(sudo|runuser): /;

/** Splits a wrapped command's stderr into the command's lines and the wrapper's. */
export function splitWrapperStderr(stderr: string): { stderr: string; wrapperStderr: string } {
  const lines = stderr.split('\n');
  return {
    stderr: lines.filter((line) => !wrapperLine.test(line)).join('\n'),
    wrapperStderr: lines.filter((line) => wrapperLine.test(line)).join('\n'),
  };
}
