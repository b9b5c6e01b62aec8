/**
 * pg_basebackup's own failures during a clone (setup's clone step, and doctor --fix's re-clone,
 * which runs the same step): what it prints, why, and what to do, in one place for the clone's
 * failure message and README. They belong to the clone, not to doctor's findings: only
 * pg_basebackup's output shows them, and a failed clone leaves the standby as it was.
 * The texts are the same words in PostgreSQL 10–18 (checked in the 13, 15, 17 and 18 binaries
 * and the 10–12 sources): "pg_basebackup: <text>" in 10–11, "pg_basebackup: error: <text>" from 12.
 */

export interface CloneFailure {
  id: string;
  /** pg_basebackup's texts that reveal it. */
  patterns: RegExp[];
  /** What happened underneath, in an operator's words. */
  cause: string;
  /** What to do, naming the standby's data directory and the primary's major where known. */
  fix: (at: CloneTarget) => string;
  /** The primary's log lines written during the copy that say why (quoted beside pg_basebackup's). */
  primaryLogPatterns?: RegExp[];
}

export interface CloneTarget {
  dataDirectory: string;
  primaryMajor?: number;
}

/** Also the fix of the clone's pg_basebackup-version precheck: the wizard runs the newest pg_basebackup on the standby. */
export const olderClientFix = (primaryMajor?: number) => {
  const major = primaryMajor ?? 'N';
  return (
    `install the client tools of the primary's major version${primaryMajor ? ` (${primaryMajor})` : ''} on the standby (Debian/Ubuntu: postgresql-client-${major}; RHEL: postgresql${major} from PGDG): ` +
    'pg_basebackup copies only servers of its own major or older, and the wizard runs the newest one it finds there'
  );
};

export const cloneFailures: CloneFailure[] = [
  // First: a full disk can also break the copy's stream, and is the cause then.
  {
    id: 'standby-disk-full',
    patterns: [/No space left on device/],
    cause: "the standby's filesystem filled up during the copy",
    fix: ({ dataDirectory }) =>
      `make room on the standby's filesystem next to ${dataDirectory}: the copy needs about the primary's size while the old data directory stays; then run the same command again`,
  },
  {
    id: 'copy-cut-short',
    // Seen on the lab (PG 15), by where the copy was when its WAL sender ended: "could not read
    // COPY data: server closed the connection unexpectedly" when the connection broke mid-message
    // (killed, crashed, an immediate shutdown, terminated while blocked sending, the network);
    // "COPY stream ended before last file was finished" when the server ended it between messages
    // (pg_terminate_backend, a fast shutdown) and "backup failed: FATAL:  terminating connection
    // due to administrator command" when that came before any file reached the client.
    patterns: [/could not read COPY data: .*/, /COPY stream ended before last file was finished/, /backup failed: FATAL:\s+terminating connection/],
    cause:
      "the primary's side of the copy ended before the copy was complete: its WAL sender was terminated (pg_terminate_backend, a fast or immediate restart or shutdown of the primary), crashed or was killed, the primary stopped (a full disk under its pg_wal stops it), or the connection between the hosts broke; pg_basebackup only says that the data stopped, the primary's log says why",
    fix: () => "correct what the primary's log says (make room on a full filesystem, wait for a restart someone else started), then run the same command again: the clone starts afresh",
    // Not ERROR: the primary's clients write those all the time; the copy ends with a FATAL.
    primaryLogPatterns: [
      /\b(?:FATAL|PANIC):\s/,
      /STATEMENT:\s+BASE_BACKUP/,
      /received (?:smart|fast|immediate) shutdown request/,
      /server process \(PID \d+\) was terminated by signal/,
      /Failed process was running: BASE_BACKUP/,
    ],
  },
  {
    id: 'target-not-empty',
    patterns: [/directory "[^"]+" exists but is not empty/],
    cause:
      'pg_basebackup writes only into an empty directory: something wrote into the directory the wizard had emptied for the copy (the .pgrepl-new one beside the data directory or a tablespace) before pg_basebackup started, or a tablespace created on the primary during the run has a non-empty path on the standby',
    fix: () => 'find what writes there (lsof +D on the directory it names) and stop it; for a new tablespace, map it with --tablespace-map OLD=NEW; then run the same command again: it empties the copy\'s directories first',
  },
  {
    id: 'client-too-old',
    patterns: [/incompatible server version/],
    cause: "the standby's pg_basebackup is of an older major than the primary: a client refuses a newer server",
    fix: ({ primaryMajor }) => olderClientFix(primaryMajor),
  },
];

/** The clone failure pg_basebackup's output reveals, or undefined. */
export const cloneFailure = (output: string): CloneFailure | undefined => cloneFailures.find((failure) => failure.patterns.some((pattern) => pattern.test(output)));

/** The last lines of the primary's log written during the copy that say why it ended (prefixes kept: they carry the time). */
export function primaryLogReasons(failure: CloneFailure, log: string): string[] {
  const patterns = failure.primaryLogPatterns ?? [];
  return log.split('\n').filter((line) => patterns.some((pattern) => pattern.test(line))).slice(-8);
}
