/**
 * Every command the wizard runs as root or as the server's OS user, in one place. Host.exec
 * runs an argv as one of those users only when it was made here for that user (the brand
 * below), so a privileged command nobody registered does not compile, and the sudoers lines
 * inspect prints come from this list.
 *
 * What runs as the server's OS user ('postgres': `postgres` on packaged installs, the data
 * directory's owner elsewhere) may be a constant `sh -c` script or a `perl -e` relay: that
 * user owns the data anyway, and a sudo rule that allows `sh -c` or `perl -e` as a user is as
 * good as being that user. What runs as root is a plain program with arguments, and only
 * where the server's OS user cannot do it (`rootWhen` says when).
 */

/**
 * Which OS user runs a command: the SSH login user, root, or the OS user that runs the
 * chosen PostgreSQL server ('postgres' means that user: the owner of its data directory,
 * `postgres` on packaged installs, any account on hand-installed ones).
 */
export type RunAs = 'login' | 'root' | 'postgres';

export type Privilege = Exclude<RunAs, 'login'>;

declare const registered: unique symbol;
/** An argv made by one of the commands below, for the users it names. */
export type PrivilegedArgv<As extends Privilege = Privilege> = readonly string[] & { readonly [registered]: (as: As) => void };

interface Definition<As extends Privilege, Args extends unknown[]> {
  runs: readonly As[];
  /** For root's commands: when the server's OS user is not enough (shown with a refusal and beside the sudoers line). */
  rootWhen?: string;
  /** For root's commands: the sudoers command pattern (absolute program, fixed arguments, `*` for paths; `:`, `=` and `,` escaped as sudoers wants). */
  sudoers?: (serverUser: string) => string;
  argv: (...args: Args) => string[];
}

export interface PrivilegedCommand<As extends Privilege, Args extends unknown[]> extends Definition<As, Args> {
  (...args: Args): PrivilegedArgv<As>;
}

function command<As extends Privilege, Args extends unknown[]>(definition: Definition<As, Args>): PrivilegedCommand<As, Args> {
  const build = (...args: Args) => definition.argv(...args) as unknown as PrivilegedArgv<As>;
  return Object.assign(build, definition);
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

/**
 * Relays bytes between the command's stdin/stdout and a PostgreSQL Unix socket. Perl is on
 * every Debian/RHEL PostgreSQL server (postgresql-common is written in it), so nothing has
 * to be installed; running it as the server's OS user makes peer authentication work, and
 * the workstation needs neither the database port nor a password.
 */
export const socketRelayScript = `
use strict; use IO::Socket::UNIX; use IO::Select;
my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0])
  or do { print STDERR "could not connect to socket $ARGV[0]: $!\\n"; exit 2 };
binmode STDIN; binmode STDOUT; binmode $sock;
my $select = IO::Select->new(\\*STDIN, $sock);
while (my @ready = $select->can_read) {
  for my $from (@ready) {
    my $n = sysread($from, my $buf, 65536);
    exit 0 unless $n;
    my $to = $from == $sock ? \\*STDOUT : $sock;
    for (my $off = 0; $off < $n;) { my $w = syswrite($to, $buf, $n - $off, $off); exit 1 unless defined $w; $off += $w; }
  }
}`;

const sh = (script: string, ...args: string[]) => ['sh', '-c', script, 'sh', ...args];
const server = ['postgres'] as const;
const either = ['postgres', 'root'] as const;
const root = ['root'] as const;
const anyPath = '*';

// --- as the server's OS user -----------------------------------------------------------

export const readFile = command({ runs: server, argv: (path: string) => sh(readFileScript, path) });
export const writeFile = command({
  runs: server,
  argv: (path: string, mode: string, secretOwner: string) => sh(writeFileScript, path, mode, secretOwner),
});
export const socketRelay = command({ runs: server, argv: (socket: string) => ['perl', '-e', socketRelayScript, socket] });
export const diskUsage = command({ runs: server, argv: (path: string) => ['du', '-sb', path] });
export const freeSpace = command({ runs: server, argv: (path: string) => ['df', '-P', '-B1', '--', path] });
export const isMountPoint = command({ runs: server, argv: (path: string) => ['mountpoint', '-q', path] });
export const pathExists = command({ runs: server, argv: (path: string) => ['test', '-e', path] });
/** repmgr with its configuration file; passwords come from the passfile named by PGPASSFILE, never from argv. */
export const repmgr = command({
  runs: server,
  argv: (binary: string, passfile: string, config: string, args: readonly string[]) => ['env', `PGPASSFILE=${passfile}`, binary, '-f', config, ...args],
});
/** pg_archivecleanup: the server's own major's first, then any installed one (it only compares WAL file names). */
export const findArchiveCleanup = command({
  runs: server,
  argv: (binDir: string) =>
    sh('for d in "$1" /usr/lib/postgresql/*/bin /usr/pgsql-*/bin; do [ -x "$d/pg_archivecleanup" ] && exec echo "$d/pg_archivecleanup"; done; command -v pg_archivecleanup', binDir),
});
/** pg_rewind of the server's own major (it refuses another's data directory): the server's bindir, then Debian's and PGDG's for that major. */
export const findPgRewind = command({
  runs: server,
  argv: (binDir: string, major: number) =>
    sh('for d in "$1" "/usr/lib/postgresql/$2/bin" "/usr/pgsql-$2/bin"; do [ -x "$d/pg_rewind" ] && exec echo "$d/pg_rewind"; done; exit 1', binDir, String(major)),
});
/**
 * Runs the host's start (or restart) command and returns as soon as the server itself says it
 * is up: the postmaster.pid of a new postmaster (another pid, started since) says `ready`
 * (accepting connections, a standby's hot standby included) or `standby` (hot_standby off),
 * the status pg_ctl -w waits for, read every 50 ms. pg_ctlcluster's own wait after pg_ctl
 * (0.5 s, then three connections 0.5 s apart) is cut short then: it is ended, the server it
 * started runs on (pg_ctl started it in a session of its own). When the command ends first
 * (the server failed to start, or the cluster was not in a state to start), its exit status
 * and its own words (pg_ctlcluster quotes the server log) are the result, as without this.
 * $1 the data directory, then the command. PostgreSQL 10+ (the status line).
 */
export const startUntilReadyScript = [
  'dir=$1; shift',
  'old=; { read -r old; } 2>/dev/null <"$dir/postmaster.pid"',
  'since=$(date +%s)',
  'out=$(mktemp) || exit 1',
  '"$@" >"$out" 2>&1 </dev/null &',
  'starter=$!',
  'while kill -0 "$starter" 2>/dev/null; do',
  '  if { read -r pid && read -r _ && read -r started && read -r _ && read -r _ && read -r _ && read -r _ && read -r status; } 2>/dev/null <"$dir/postmaster.pid" &&',
  '    [ "$pid" != "$old" ] && [ "$started" -ge "$since" ] 2>/dev/null && { [ "$status" = ready ] || [ "$status" = standby ]; } && kill -0 "$pid" 2>/dev/null; then',
  '    kill "$starter" 2>/dev/null; rm -f -- "$out"; exit 0',
  '  fi',
  '  sleep 0.05',
  'done',
  'wait "$starter"; status=$?',
  'cat -- "$out" >&2; rm -f -- "$out"; exit "$status"',
].join('\n');
export const startUntilReady = command({
  runs: server,
  argv: (dataDirectory: string, start: PrivilegedArgv<'postgres'>) => sh(startUntilReadyScript, dataDirectory, ...start),
});
/** A WAL archive's files, one `NAME<tab>BYTES` line each; a base backup's history file adds `<tab>LABEL` (its LABEL: line). */
export const archiveContents = command({
  runs: server,
  argv: (dir: string) =>
    sh(
      'cd -- "$1" || exit 1; tab=$(printf "\\t"); find . -maxdepth 1 -type f -printf "%f\\t%s\\n" | while IFS="$tab" read -r name size; do ' +
        'case $name in *.backup) printf "%s\\t%s\\t%s\\n" "$name" "$size" "$(sed -n "s/^LABEL: //p" -- "$name")" ;; *) printf "%s\\t%s\\n" "$name" "$size" ;; esac; done',
      dir,
    ),
});
/** Moves the named files of directory $1 into directory $2 (never over a file there), printing each name moved. */
export const moveFilesInto = command({
  runs: server,
  argv: (from: string, to: string, names: readonly string[]) => sh('from=$1 to=$2; shift 2; for f; do mv -n -- "$from/$f" "$to/$f" && [ ! -e "$from/$f" ] && echo "$f" || exit 1; done', from, to, ...names),
});
/** pg_archivecleanup DIR KEEP: removes the WAL files in DIR older than KEEP (a segment, or a base backup's history file); with dryRun (-n) prints their paths instead. */
export const archiveCleanup = command({
  runs: server,
  argv: (tool: string, dir: string, keepFrom: string, dryRun: boolean) => [tool, ...(dryRun ? ['-n'] : []), dir, keepFrom],
});
export const removeFile = command({ runs: server, argv: (path: string) => ['rm', '-f', '--', path] });
const spaceScript = [
  'for p; do',
  '  d=$p; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done',
  '  m=$(df -P -B1 -- "$d" | awk \'NR==2 {print $6 "\\t" $4}\')',
  '  n=0; [ -d "$p" ] && [ -n "$(ls -A -- "$p" 2>/dev/null)" ] && n=1',
  '  printf "%s\\t%s\\t%s\\n" "$m" "$n" "$p"',
  'done',
].join('\n');

/**
 * Free space per filesystem for paths that may not exist yet (the nearest existing parent
 * counts), and whether each path is already a non-empty directory: one line per path,
 * "mount<TAB>available<TAB>nonempty(0|1)<TAB>path".
 */
export const pathSpace = command({ runs: server, argv: (paths: readonly string[]) => sh(spaceScript, ...paths) });
export const isWritable = command({ runs: server, argv: (path: string) => ['test', '-w', path] });

/** Data directory, server binary, owner, systemd cgroup, PG_VERSION, then postmaster.pid of one postmaster, in one round trip. */
const postmasterScript = [
  'd=$(readlink "/proc/$1/cwd") && exe=$(readlink "/proc/$1/exe") || exit 3',
  '[ -f "$d/PG_VERSION" ] && [ -f "$d/postmaster.pid" ] || exit 3',
  'printf "%s\\n%s\\n" "$d" "${exe% (deleted)}"; stat -c %U -- "$d"',
  'u=; [ -d /run/systemd/system ] && u=$(grep -o "system\\.slice/[^/]*\\.service" "/proc/$1/cgroup" 2>/dev/null | head -n 1); printf "%s\\n" "$u"',
  'cat -- "$d/PG_VERSION" "$d/postmaster.pid"',
].join('\n');
/** Run as the postmaster's own user: its /proc entries and data directory are that user's. */
export const postmasterFacts = command({ runs: server, argv: (pid: string) => sh(postmasterScript, pid) });

export const binDirSearch = command({
  runs: server,
  argv: (major: number, candidates: string[]) =>
    sh('want="$1"; shift; for d; do v=$("$d/postgres" --version 2>/dev/null) || continue; case "$v" in *" $want."*|*" $want"[!0-9.]*) echo "$d"; exit 0;; esac; done; exit 3', String(major), ...candidates),
});
/** The user's login shell finds postgres on its PATH (a hand-installed server's profile). */
export const loginShellPostgres = command({ runs: server, argv: (shell: string) => [shell, '-lc', 'command -v postgres'] });

export const configuredSettings = command({
  runs: server,
  argv: (postgres: string, dataDirectory: string, configFile: string, names: readonly string[]) =>
    sh(
      'postgres="$1"; data="$2"; conf="$3"; shift 3; for name; do ' +
        '(v=$("$postgres" -D "$data" -c "config_file=$conf" -C "$name" 2>/dev/null) && printf "%s\\t%s\\n" "$name" "$v") & done; wait',
      postgres,
      dataDirectory,
      configFile,
      ...names,
    ),
});
export const controlFile = command({
  runs: server,
  argv: (dataDirectory: string, timelineOffset: string) =>
    sh('f="$1/global/pg_control"; od -An -t u8 -N 8 -- "$f" && od -An -t u4 -j 16 -N 4 -- "$f" && od -An -t u4 -j "$2" -N 4 -- "$f"', dataDirectory, timelineOffset),
});
export const liveAddress = command({
  runs: server,
  argv: (pgCtl: string, dataDirectory: string) => sh('"$1" status -D "$2" >/dev/null 2>&1 || exit 3; exec cat -- "$2/postmaster.pid"', pgCtl, dataDirectory),
});
/** $1: data directory, $2: "running" when the server runs. Prints boot_id, device:inode (empty when missing), then postmaster.pid. */
export const clusterIdentity = command({
  runs: server,
  argv: (dataDirectory: string, running: boolean) =>
    sh(
      [
        'cat /proc/sys/kernel/random/boot_id',
        'stat -L -c %d:%i -- "$1" 2>/dev/null || echo',
        'if [ "$2" = running ]; then head -n 7 -- "$1/postmaster.pid" 2>/dev/null || true; fi',
      ].join('\n'),
      dataDirectory,
      running ? 'running' : 'stopped',
    ),
});

export const pgCtl = command({ runs: server, argv: (binDir: string, args: readonly string[]) => [`${binDir}/pg_ctl`, ...args] });

const identifySystem = (psql: string, conninfo: string) => [psql, '-X', '-w', '-A', '-t', '-c', 'IDENTIFY_SYSTEM', conninfo];
/** A replication connection as the standby's server would open it (passfile or none). */
export const replicationProbe = command({ runs: server, argv: identifySystem });
/** The same with a password (one line, maybe empty) on stdin: never in argv, so never in a process list. */
export const replicationProbeWithPassword = command({
  runs: server,
  argv: (psql: string, conninfo: string) =>
    sh('IFS= read -r PGPASSWORD; if [ -n "$PGPASSWORD" ]; then export PGPASSWORD; else unset PGPASSWORD; fi; exec "$@"', ...identifySystem(psql, conninfo)),
});
/** pg_basebackup, the password from the passfile. */
export const basebackup = command({
  runs: server,
  argv: (pgBasebackup: string, passfile: string, environment: readonly string[], args: readonly string[]) => [
    'env', `PGPASSFILE=${passfile}`, 'PGAPPNAME=pgrepl-wizard-clone', ...environment, pgBasebackup, ...args,
  ],
});
/**
 * pg_rewind ($3…) with its source server reached through this command's stdin and stdout:
 * the script listens on a Unix socket (port $1) in a directory of its own (mode 0700, removed
 * at the end), starts pg_rewind with --source-server naming that socket and role $2, accepts
 * one connection, and only from that pg_rewind's own pid (SO_PEERCRED: nobody else on the
 * host gets the session), then relays it byte for byte. pg_rewind's output goes to stderr;
 * the exit code is pg_rewind's.
 */
export const rewindRelayScript = `
use strict; use IO::Socket::UNIX; use IO::Select; use File::Temp qw(tempdir); use POSIX qw(WNOHANG);
use Socket qw(SOL_SOCKET SO_PEERCRED);
my ($port, $user, @command) = @ARGV;
my $dir = tempdir('pgrepl-rewind-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $listener = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => "$dir/.s.PGSQL.$port", Listen => 1)
  or do { print STDERR "could not listen in $dir: $!\\n"; exit 2 };
(my $quoted = $user) =~ s/(['\\\\])/\\\\$1/g;
sub status { my $s = shift; return $s & 127 ? 128 + ($s & 127) : $s >> 8 }
my $child = fork() // do { print STDERR "could not fork: $!\\n"; exit 2 };
if ($child == 0) {
  close $listener; open(STDIN, '<', '/dev/null'); open(STDOUT, '>&', \\*STDERR);
  exec(@command, "--source-server=host=$dir port=$port user='$quoted' dbname=postgres application_name=pgrepl-wizard-rewind")
    or do { print STDERR "could not run $command[0]: $!\\n"; POSIX::_exit(127) };
}
my $conn;
until ($conn) {
  exit status($?) if waitpid($child, WNOHANG) == $child;
  next unless IO::Select->new($listener)->can_read(0.2);
  my $candidate = $listener->accept or next;
  my ($pid) = unpack('i', getsockopt($candidate, SOL_SOCKET, SO_PEERCRED) // '');
  if (defined $pid && $pid == $child) { $conn = $candidate } else { close $candidate }
}
close $listener;
binmode STDIN; binmode STDOUT; binmode $conn;
my $select = IO::Select->new(\\*STDIN, $conn);
RELAY: while (my @ready = $select->can_read) {
  for my $from (@ready) {
    my $n = sysread($from, my $buf, 65536);
    last RELAY unless $n;
    my $to = $from == $conn ? \\*STDOUT : $conn;
    for (my $off = 0; $off < $n;) { my $w = syswrite($to, $buf, $n - $off, $off); last RELAY unless defined $w; $off += $w; }
  }
}
close $conn; close STDOUT;
waitpid($child, 0);
exit status($?);`;
export const rewindThroughRelay = command({
  runs: server,
  argv: (port: number, sourceRole: string, pgRewind: readonly string[]) => ['perl', '-e', rewindRelayScript, String(port), sourceRole, ...pgRewind],
});
/**
 * What every command runs behind (ssh-host.ts), as the user that runs it: a session and process
 * group of its own (setsid), announced on stderr before the command starts, so that an
 * interruption of the run can end the command with every process it started (pg_ctlcluster's
 * pg_ctl, pg_basebackup's WAL streamer) instead of waiting for it.
 */
export const ownProcessGroup = ['setsid', '-w', 'sh', '-c', 'echo "pgrepl-pgid $$" >&2; exec "$@"', 'sh'] as const;
export const processGroupMarker = /^pgrepl-pgid (\d+)\n/m;
/**
 * Ends a process group (CONT after TERM: a stopped member gets it too) and waits until none
 * of its session is left but zombies, else KILLs it. `kill -s SIG --` is the spelling dash's kill accepts.
 */
export const endProcessGroup = command({
  runs: server,
  argv: (pgid: string) =>
    sh(
      [
        'kill -s TERM -- "-$1" 2>/dev/null || exit 0',
        'kill -s CONT -- "-$1" 2>/dev/null',
        "for i in $(seq 1 100); do ps -o stat= -s \"$1\" | grep -qv '^Z' || exit 0; sleep 0.1; done",
        'kill -s KILL -- "-$1" 2>/dev/null; exit 0',
      ].join('\n'),
      pgid,
    ),
});
/**
 * The run lock (src/setup/run-lock.ts): $1 directory, $2 lock file, $3 this run's record, $4
 * seconds without renewal before the holder gives up. Says `pgrepl-lock busy RECORD`, or
 * `pgrepl-lock holder PID` and `pgrepl-lock taken PREVIOUS-RECORD`, on stderr, then holds the flock while it can write to
 * the session (a byte a second: when the session is gone, that write ends it).
 */
export const holdRunLock = command({
  runs: server,
  argv: (dir: string, file: string, record: string, staleSeconds: number) =>
    sh(
      [
        'dir=$1 lock=$1/$2 record=$3 stale=$4',
        'mkdir -p -m 0700 -- "$dir" && exec 9>>"$lock" || exit 1',
        'if ! flock -n 9; then printf \'pgrepl-lock busy %s\\n\' "$(cat -- "$lock")" >&2; exit 75; fi',
        // The release ends this shell by its pid (clearRunLock); sleep never holds the lock's descriptor, so it is free at once.
        'printf \'pgrepl-lock holder %s\\n\' "$$" >&2',
        'printf \'pgrepl-lock taken %s\\n\' "$(cat -- "$lock")" >&2',
        'printf "%s\\n" "$record" > "$lock"',
        'while [ $(( $(date +%s) - $(stat -c %Y -- "$lock") )) -lt "$stale" ]; do printf . || exit 0; sleep 1 9>&-; done',
      ].join('\n'),
      dir, file, record, String(staleSeconds),
    ),
});
export const renewRunLock = command({ runs: server, argv: (path: string) => ['touch', '-c', '--', path] });
/**
 * A clean end clears the record (only while it is still this run's), so the next run finds no
 * dead run's lock, and ends the holder's process group ($3: the holder is its leader, see
 * ownProcessGroup), its sleep with it: waiting for it to notice its closed channel (its next
 * write, up to a second later) would keep the lock from a run that follows at once, and with
 * the group gone its channel closes without a second command to end it. Exit 0 only when the
 * group was ended.
 */
export const clearRunLock = command({
  runs: server,
  argv: (path: string, record: string, holderPid: string) => sh('[ "$(cat -- "$1" 2>/dev/null)" = "$2" ] && : > "$1"; kill -s TERM -- "-$3" 2>/dev/null', path, record, holderPid),
});
/**
 * Process groups of pg_basebackup runs still writing into the side directory $1. A process
 * counts only by its executable (this script's own command line names pg_basebackup and the
 * directory too), never in this script's own process group, and only in this mount
 * namespace. Run as the server's OS user: the clones it looks for are that user's.
 * /proc/PID/comm is read with the shell's own `read` first, so only a pg_basebackup costs a
 * process (a busy server has hundreds of others; two readlinks for each took seconds).
 */
export const orphanedClones = command({
  runs: server,
  argv: (sideDirectory: string) =>
    sh(
      [
        'own=$(readlink /proc/self/ns/mnt)',
        'read -r _ _ _ _ self _ < /proc/$$/stat',
        'for d in /proc/[0-9]*; do',
        '  read -r comm 2>/dev/null < "$d/comm" || continue',
        '  [ "$comm" = pg_basebackup ] || continue',
        '  [ "$(readlink "$d/ns/mnt" 2>/dev/null)" = "$own" ] || continue',
        '  exe=$(readlink "$d/exe" 2>/dev/null) || continue',
        '  case "${exe##*/}" in pg_basebackup | "pg_basebackup (deleted)") ;; *) continue ;; esac',
        '  tr "\\0" "\\n" < "$d/cmdline" 2>/dev/null | grep -qxF -- "$1" || continue',
        '  pgid=$(ps -o pgid= -p "${d#/proc/}" | tr -d " ")',
        '  [ -z "$pgid" ] || [ "$pgid" = "$self" ] || echo "$pgid"',
        'done | sort -u',
      ].join('\n'),
      sideDirectory,
    ),
});
/** Copies those of the named files that exist from $1 to $2, printing each copied name. */
export const copyExistingFiles = command({
  runs: server,
  argv: (from: string, to: string, names: readonly string[]) =>
    sh('kept=$1 data=$2; shift 2; for f; do if [ -f "$kept/$f" ]; then cp -p -- "$kept/$f" "$data/$f" && echo "$f" || exit 1; fi; done', from, to, ...names),
});
/**
 * Readies complete copies to be swapped in, in one round trip: each side directory ($1, $3,
 * …) gets mode 0700, and for each target ($2, $4, …) a line says whether it exists (1 or 0).
 */
export const readySwaps = command({
  runs: server,
  argv: (swaps: readonly { side: string; target: string }[]) =>
    sh('while [ $# -gt 1 ]; do chmod 0700 -- "$1" || exit 1; if [ -e "$2" ]; then echo 1; else echo 0; fi; shift 2; done', ...swaps.flatMap((swap) => [swap.side, swap.target])),
});
export const setMode = command({ runs: server, argv: (mode: '0700' | '0600', path: string) => ['chmod', mode, '--', path] });
export const symlink = command({ runs: server, argv: (target: string, link: string) => ['ln', '-sfn', '--', target, link] });
/** Server logs: Debian's /var/log/postgresql files are the postgres group's, a collector's directory the server user's. */
export const listLogFiles = command({ runs: server, argv: (paths: readonly string[]) => ['find', ...paths, '-maxdepth', '1', '-type', 'f', '-printf', '%T@\\t%s\\t%p\\n'] });
export const tailFile = command({ runs: server, argv: (offset: number, path: string, maxBytes: number) => sh('tail -c +"$1" -- "$2" | tail -c "$3"', String(offset), path, String(maxBytes)) });

// --- as the server's OS user where it may, else as root --------------------------------

// A config file root owns is read, backed up and rewritten by plain programs, never by a root shell.
const rootOwnedConfig = 'a config file the wizard edits (pg_hba.conf) is owned by root, not by the server user';
const foreignParent = 'a directory it creates, moves or removes (the WAL archive, a data or tablespace directory) lies in a directory the server user may not write';

export const movePath = command({
  runs: either,
  rootWhen: foreignParent,
  sudoers: () => `/usr/bin/mv -T -- ${anyPath}`,
  argv: (from: string, to: string) => ['mv', '-T', '--', from, to],
});
export const removeTree = command({
  runs: either,
  rootWhen: foreignParent,
  sudoers: () => `/usr/bin/rm -rf -- ${anyPath}`,
  argv: (paths: readonly string[]) => ['rm', '-rf', '--', ...paths],
});
/** Makes a directory (or fixes an existing one) owned by the server's OS user, mode 0700. */
export const makeServerDirectory = command({
  runs: either,
  rootWhen: foreignParent,
  sudoers: (serverUser) => `/usr/bin/install -d -o ${serverUser} -m 0700 -- ${anyPath}`,
  argv: (owner: string, path: string) => ['install', '-d', '-o', owner, '-m', '0700', '--', path],
});
export const copyPreserving = command({
  runs: either,
  rootWhen: rootOwnedConfig,
  sudoers: () => `/usr/bin/cp -p -- ${anyPath}`,
  argv: (from: string, to: string) => ['cp', '-p', '--', from, to],
});
/** Who owns a path (and its mode); root only for a path the server's OS user cannot reach. */
export const statPath = command({
  runs: either,
  rootWhen: "a stopped cluster is named by a data directory the login user cannot see into (to learn its owner)",
  sudoers: () => `/usr/bin/stat -c %U -- ${anyPath}`,
  argv: (format: string, path: string) => ['stat', '-c', format, '--', path],
});
/** Debian's wrapper: as root it hands the cluster to systemd (postgresql@V-NAME), as postgres it runs pg_ctl. */
export const pgCtlCluster = command({
  runs: either,
  rootWhen: 'a cluster is started or stopped on a host systemd runs (pg_ctlcluster hands it to systemctl)',
  sudoers: () => '/usr/bin/pg_ctlcluster',
  argv: (args: readonly string[]) => ['pg_ctlcluster', ...args],
});

// --- root only ---------------------------------------------------------------------------

export const systemctl = command({
  runs: root,
  rootWhen: 'a server a systemd unit started (PGDG postgresql-N) is started or stopped',
  sudoers: () => '/usr/bin/systemctl start *, /usr/bin/systemctl stop *, /usr/bin/systemctl restart *, /usr/bin/systemctl reload *',
  argv: (action: string, unit: string) => ['systemctl', action, unit],
});
export const journal = command({
  runs: root,
  rootWhen: 'doctor reads a server log from the systemd journal (the server writes no log file)',
  sudoers: () => '/usr/bin/journalctl --no-pager --quiet *',
  argv: (units: readonly string[]) => ['journalctl', '--no-pager', '--quiet', '--output', 'short-iso-precise', '--lines', '3000', ...units.flatMap((unit) => ['--unit', unit])],
});
/** The standby's passfile given to the server's OS user when another user owns it. */
export const giveToServerUser = command({
  runs: root,
  rootWhen: "the standby's passfile belongs to another user than the server's",
  sudoers: (serverUser) => `/usr/bin/chown ${serverUser}\\: -- ${anyPath}`,
  argv: (owner: string, path: string) => ['chown', `${owner}:`, '--', path],
});
export const catFile = command({ runs: root, rootWhen: rootOwnedConfig, sudoers: () => `/usr/bin/cat -- ${anyPath}`, argv: (path: string) => ['cat', '--', path] });
export const makeTempFile = command({ runs: root, rootWhen: rootOwnedConfig, sudoers: () => `/usr/bin/mktemp -- ${anyPath}`, argv: (template: string) => ['mktemp', '--', template] });
export const teeFile = command({ runs: root, rootWhen: rootOwnedConfig, sudoers: () => `/usr/bin/tee -- ${anyPath}`, argv: (path: string) => ['tee', '--', path] });
export const copyModeAndOwner = command({
  runs: root,
  rootWhen: rootOwnedConfig,
  sudoers: () => `/usr/bin/chmod --reference\\=${anyPath}, /usr/bin/chown --reference\\=${anyPath}`,
  argv: (reference: string, path: string, what: 'chmod' | 'chown') => [what, `--reference=${reference}`, '--', path],
});
export const replaceFile = command({ runs: root, rootWhen: rootOwnedConfig, sudoers: () => `/usr/bin/mv -f -- ${anyPath}`, argv: (from: string, to: string) => ['mv', '-f', '--', from, to] });

/** A command root may run: the case that needs root, and the sudoers pattern that allows it. */
export interface RootCommand {
  readonly runs: readonly Privilege[];
  readonly rootWhen: string;
  readonly sudoers: (serverUser: string) => string;
}

function listed(...commands: { runs: readonly Privilege[]; rootWhen?: string; sudoers?: (serverUser: string) => string }[]): RootCommand[] {
  return commands.map((c) => {
    if (!c.rootWhen || !c.sudoers) throw new Error('a command root may run names its case and its sudoers pattern');
    return c as RootCommand;
  });
}

/** Every command that may run as root, for the sudoers lines inspect and README print. */
export const rootCommands: readonly RootCommand[] = listed(
  makeServerDirectory,
  movePath,
  removeTree,
  copyPreserving,
  statPath,
  pgCtlCluster,
  systemctl,
  journal,
  giveToServerUser,
  catFile,
  makeTempFile,
  teeFile,
  copyModeAndOwner,
  replaceFile,
);
