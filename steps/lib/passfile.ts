/**
 * libpq password file lines (hostname:port:database:username:password) for the standby's
 * walreceiver. Physical replication connections match the database field "replication".
 * ":" and "\" inside a field are escaped with a backslash; getting that wrong is a classic
 * cause of "password authentication failed".
 */
const escapeField = (value: string) => value.replace(/\\/g, '\\\\').replace(/:/g, '\\:');

function splitLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (char === '\\' && i + 1 < line.length) current += line[++i];
    else if (char === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else current += char;
  }
  fields.push(current);
  return fields;
}

// `database`: "replication" for the walreceiver; another for an ordinary connection (repmgr's).
export function passfileLine(host: string, port: number, user: string, password: string, database = 'replication'): string {
  return [host, String(port), database, user, password].map(escapeField).join(':');
}

const matches = (fields: string[], host: string, port: number, user: string, database: string) =>
  fields.length === 5 && fields[0] === host && fields[1] === String(port) && fields[2] === database && fields[3] === user;

export function findPassfileEntry(content: string, host: string, port: number, user: string, database = 'replication'): string | undefined {
  for (const line of content.split('\n')) {
    if (line.startsWith('#')) continue;
    const fields = splitLine(line);
    if (matches(fields, host, port, user, database)) return fields[4];
  }
  return undefined;
}

/** The file with exactly one line for this host/port/database/user, other lines untouched. */
export function upsertPassfileEntry(content: string, host: string, port: number, user: string, password: string, database = 'replication'): string {
  const kept = content.split('\n').filter((line) => line !== '' && (line.startsWith('#') || !matches(splitLine(line), host, port, user, database)));
  return [...kept, passfileLine(host, port, user, password, database)].join('\n') + '\n';
}
