import { shellQuote } from '../../src/remote/quote.js';

/**
 * The commands PostgreSQL runs for a WAL archive in a directory. Each is a constant script the
 * server's shell runs with the directory, %p and %f as its arguments: the directory is only
 * ever an argument, shell-quoted, with % doubled so PostgreSQL leaves it alone.
 */

/**
 * What the manual's "Setting Up WAL Archiving" asks of an archive_command: a segment already
 * archived with the same content succeeds (a crash between the copy and the server's
 * acknowledgement archives it again), one with other content fails, and a new one is written
 * under a temporary name (not a WAL file name, so pg_archivecleanup and restore_command never
 * see it), fsynced, renamed into place, and the rename fsynced. `sync FILE` needs coreutils
 * 8.24 (older ones sync everything, which is no weaker). No single quote and no % inside.
 */
const archiveScript =
  'test -f "$1/$3" && { cmp -s "$2" "$1/$3" && exit 0; echo "$1/$3 is archived already, with other content" >&2; exit 1; }; ' +
  'cp "$2" "$1/.$3.tmp" && sync "$1/.$3.tmp" && mv "$1/.$3.tmp" "$1/$3" && sync "$1"';

/** A shell word for a directory inside a PostgreSQL command setting. */
const directoryWord = (dir: string) => shellQuote(dir).replace(/%/g, '%%');

/** archive_command for an archive directory on the primary. */
export function archiveCommand(dir: string): string {
  return `sh -c '${archiveScript}' archive-wal ${directoryWord(dir)} %p %f`;
}

/**
 * PostgreSQL up to 15 expands archive_command into a buffer of 1024 bytes (MAXPGPATH) and
 * silently cuts what does not fit; %p and %f expand to at most 31 and 24 characters here.
 */
export const archiveCommandFits = (dir: string) => archiveCommand(dir).length - 4 + 31 + 24 < 1024;

/** restore_command for a standby that reads the same archive at `dir`. */
export function restoreCommand(dir: string): string {
  return `cp ${directoryWord(dir)}/%f %p`;
}

/** archive_cleanup_command: the standby removes segments older than its last restartpoint needs. */
export function archiveCleanupCommand(archiveCleanup: string, dir: string): string {
  return `${directoryWord(archiveCleanup)} ${directoryWord(dir)} %r`;
}
