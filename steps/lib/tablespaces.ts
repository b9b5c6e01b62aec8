import type { SetupSettings, StepContext } from '../contract.js';
import { query } from './live-server.js';

/**
 * The primary's tablespaces as the clone handles them: each is copied into a side directory
 * of its own next to its standby path (pg_basebackup --tablespace-mapping), and swapped in
 * only when the whole clone succeeded, like the data directory.
 */
export interface Tablespace {
  oid: string;
  name: string;
  /** Its directory on the primary. */
  location: string;
  bytes: number;
  /** Its directory on the standby: the same path unless --tablespace-map names another. */
  target: string;
}

/** One JSON array (or null) of the primary's own tablespaces; pg_tablespace_location exists since 9.2. */
export const tablespacesSql = `(SELECT json_agg(json_build_object('oid', oid::text, 'name', spcname, 'location', pg_tablespace_location(oid),
                                 'bytes', pg_tablespace_size(oid)::text) ORDER BY spcname)
                                 FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global'))`;

type Row = Omit<Tablespace, 'target' | 'bytes'> & { bytes: string | number };

export function withTargets(rows: Row[] | null, settings: Pick<SetupSettings, 'tablespaceMap'>): Tablespace[] {
  return (rows ?? []).map((row) => ({ ...row, bytes: Number(row.bytes), target: settings.tablespaceMap?.[row.location] ?? row.location }));
}

/** The primary's tablespaces now, each with its standby path. */
export async function primaryTablespaces(ctx: StepContext): Promise<Tablespace[]> {
  const [row] = await query<{ tablespaces: Row[] | null }>(ctx.primary, `SELECT ${tablespacesSql} AS tablespaces`);
  return withTargets(row.tablespaces, ctx.settings);
}

/** --tablespace-map entries that name no tablespace of the primary (a typo must not pass silently). */
export const unmatchedMappings = (tablespaces: Tablespace[], settings: Pick<SetupSettings, 'tablespaceMap'>) =>
  Object.keys(settings.tablespaceMap ?? {}).filter((from) => !tablespaces.some((t) => t.location === from));

export const tablespaceSide = (target: string) => `${target}.pgrepl-new`;
export const keptTablespace = (target: string, suffix: string) => `${target}.pgrepl-old-${suffix}`;

/** pg_basebackup's option for one tablespace (its "=" inside a path would need escaping as "\="). */
export const mappingOption = (t: Tablespace) => `--tablespace-mapping=${t.location.replaceAll('=', '\\=')}=${tablespaceSide(t.target).replaceAll('=', '\\=')}`;

/** One line of privileged.pathSpace's output. */
export interface PathSpace {
  path: string;
  mount: string;
  available: number;
  nonEmpty: boolean;
}

export function parseSpace(output: string): PathSpace[] {
  return output
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [mount, available, nonEmpty, ...path] = line.split('\t');
      return { mount, available: Number(available), nonEmpty: nonEmpty === '1', path: path.join('\t') };
    });
}

/** What each filesystem must hold for the clone: the main directory's share on its own, each tablespace on its. */
export function spaceNeeded(dataBytes: number, dataPath: string, tablespaces: Tablespace[], spaces: PathSpace[]): { mount: string; available: number; needed: number; what: string[] }[] {
  const byMount = new Map<string, { mount: string; available: number; needed: number; what: string[] }>();
  const add = (path: string, bytes: number, what: string) => {
    const space = spaces.find((s) => s.path === path);
    if (!space) return;
    const entry = byMount.get(space.mount) ?? { mount: space.mount, available: space.available, needed: 0, what: [] };
    entry.needed += bytes;
    entry.what.push(what);
    byMount.set(space.mount, entry);
  };
  const inTablespaces = tablespaces.reduce((sum, t) => sum + t.bytes, 0);
  add(dataPath, Math.max(0, dataBytes - inTablespaces), 'the data directory');
  for (const t of tablespaces) add(t.target, t.bytes, `tablespace ${t.name}`);
  return [...byMount.values()].map((e) => ({ ...e, needed: Math.ceil(e.needed * 1.1) }));
}
