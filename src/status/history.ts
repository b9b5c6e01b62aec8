import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * What `status` keeps between runs, on the workstation (the XDG state directory), never on
 * the servers: a file in PGDATA would travel with every clone. Before PostgreSQL 17 the
 * server does not say since when a slot is inactive, so the first run that saw it inactive
 * is remembered.
 */
export interface StatusHistory {
  /** Slot name → when this workstation first saw it inactive (ISO 8601). */
  firstSeenInactive: Record<string, string>;
}

export const emptyHistory = (): StatusHistory => ({ firstSeenInactive: {} });

/** $XDG_STATE_HOME/pgrepl-wizard (default ~/.local/state/pgrepl-wizard). */
export const stateDirectory = (env: NodeJS.ProcessEnv = process.env) => join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'pgrepl-wizard');

/** One file per primary cluster, named so a person can tell which. */
export const historyPath = (primaryLabel: string, clusterId: string, env: NodeJS.ProcessEnv = process.env) =>
  join(stateDirectory(env), `status-${`${primaryLabel}-${clusterId}`.replace(/[^A-Za-z0-9@._-]+/g, '_')}.json`);

export async function loadHistory(path: string): Promise<StatusHistory> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as Partial<StatusHistory>;
    return { firstSeenInactive: { ...data.firstSeenInactive } };
  } catch {
    // None yet, or unreadable: start afresh (it only holds first-seen times).
    return emptyHistory();
  }
}

export async function saveHistory(path: string, history: StatusHistory): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(history, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

/** Inactive slots get a first-seen time (kept once set); active or dropped slots lose theirs. */
export function recordInactiveSlots(history: StatusHistory, slots: readonly { name: string; active: boolean }[], now: string): StatusHistory {
  const firstSeenInactive = Object.fromEntries(slots.filter((slot) => !slot.active).map((slot) => [slot.name, history.firstSeenInactive[slot.name] ?? now]));
  return { firstSeenInactive };
}
