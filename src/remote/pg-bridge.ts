import { Duplex } from 'node:stream';
import pg from 'pg';

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

/**
 * pg's Connection expects a net.Socket; an ssh2 exec channel is a Duplex that is already
 * connected, so the socket-only calls become no-ops.
 */
export function asPgStream(channel: Duplex): Duplex {
  const socketLike = channel as Duplex & Record<string, unknown>;
  socketLike.setNoDelay = () => socketLike;
  socketLike.setKeepAlive = () => socketLike;
  socketLike.ref = () => socketLike;
  socketLike.unref = () => socketLike;
  socketLike.connect = () => {
    process.nextTick(() => channel.emit('connect'));
    return socketLike;
  };
  return channel;
}

/** The server asked for a password on its Unix socket: peer/trust is not allowed for that user. */
export class PasswordDemanded extends Error {}

/**
 * Connects as `user`, the server's OS user: initdb made a superuser role of the same name,
 * and peer authentication maps one to the other. The database is `postgres`, which initdb
 * creates in every version.
 */
export async function connectPg(channel: Duplex, user: string, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({
    stream: () => asPgStream(channel),
    user,
    database,
    application_name: 'pgrepl-wizard',
    // Never guess a password (nor read ~/.pgpass on the workstation): say what works instead.
    password: () => {
      throw new PasswordDemanded('password requested');
    },
  });
  await client.connect();
  return client;
}
