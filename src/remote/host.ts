/**
 * The one interface every step, check and screen uses to touch a server. The real
 * implementation runs over a single ssh2 connection per host (ssh-host.ts); unit tests use
 * a fake. Commands are argv arrays, never shell strings.
 */

/** Which end of the replication pair a host or a finding is on. */
export type Side = 'primary' | 'standby';

/**
 * Which OS user runs a command: the SSH login user, root, or the OS user that runs the
 * chosen PostgreSQL server ('postgres' means that user: the owner of its data directory,
 * `postgres` on packaged installs, any account on hand-installed ones).
 */
export type RunAs = 'login' | 'root' | 'postgres';

export interface ExecOptions {
  as?: RunAs;
  /** Sent on the command's stdin, then closed. Secrets and SQL travel this way, never in argv. */
  stdin?: string | Buffer;
  /** Called with each stderr chunk as it arrives (progress output). */
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
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

/** Where a PostgreSQL cluster listens on its own host: its Unix socket directory and port. */
export interface ClusterAddress {
  port: number;
  socketDir: string;
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
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs argv; rejects with a WizardError naming the host and the command's stderr on failure. */
  run(argv: readonly string[], options?: ExecOptions): Promise<string>;
  /** A file's text, or null when it does not exist. */
  readFile(path: string, as?: RunAs): Promise<string | null>;
  /** Replaces a file atomically (temporary file in the same directory, then rename). */
  writeFile(path: string, content: string, options?: WriteFileOptions): Promise<void>;
  /** Runs one statement as the server's OS user over the cluster's Unix socket (peer auth). */
  sql<Row extends SqlRow = SqlRow>(cluster: ClusterAddress, text: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

/** Prefix that makes argv run as the wanted user, given who we logged in as. */
export function privilegeWrapper(loginUser: string, as: RunAs, serverUser = 'postgres'): string[] {
  if (as === 'login' || loginUser === (as === 'root' ? 'root' : serverUser)) return [];
  if (loginUser === 'root') return as === 'postgres' ? ['runuser', '-u', serverUser, '--'] : [];
  // -n: fail at once instead of waiting for a password nobody will type.
  return as === 'postgres' ? ['sudo', '-n', '-u', serverUser, '--'] : ['sudo', '-n', '--'];
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

/** Shell snippets run with `sh -c SCRIPT sh ARG...`: the script is constant, paths arrive as $1, $2. */
export const readFileScript = 'if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi';
// $1 path, $2 mode of a new file, $3 the owner of a secret (empty otherwise). mktemp: an
// unpredictable name, created 0600, so nobody else can read or replace it while it fills.
export const writeFileScript = [
  'set -e',
  'tmp=$(mktemp -- "$1.pgrepl-tmp.XXXXXX")',
  'trap \'rm -f -- "$tmp"\' EXIT',
  'cat > "$tmp"',
  'if [ -n "$3" ]; then chown -- "$3:" "$tmp"',
  'elif [ -e "$1" ]; then chmod --reference="$1" -- "$tmp"; chown --reference="$1" -- "$tmp" 2>/dev/null || true',
  'else chmod -- "$2" "$tmp"; fi',
  'mv -f -- "$tmp" "$1"',
  'trap - EXIT',
].join('\n');
export const missingFileExitCode = 3;
