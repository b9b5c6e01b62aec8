import { Duplex } from 'node:stream';
import type pg from 'pg';

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
  // Loaded at the first session, not with the SSH code: a run connects its hosts meanwhile.
  const { Client } = (await import('pg')).default;
  const client = new Client({
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
