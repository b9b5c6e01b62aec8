// Resolve a host alias through ~/.ssh/config the way `ssh -G` does, so the
// wizard connects with the same host name, user, port, keys and jump host
// the user already uses with plain `ssh`.
//
// Practical subset, deliberately:
// - Only HostName, User, Port, IdentityFile, IdentitiesOnly and ProxyJump
//   are read; other keywords are ignored (ssh itself would apply them).
// - `Match` blocks are skipped: their criteria (exec, localuser, ...) cannot
//   be judged here, so their settings never apply. `Match all`, the usual
//   way to return to global scope, is honoured.
// - `Include` is resolved by loadSshConfig only (parseSshConfig does no I/O).
//   Globs are supported in the last path component only (`conf.d/*.conf`);
//   patterns with wildcards elsewhere, or with `[...]` classes, are skipped.
// - No default identity files are added (ssh -G lists ~/.ssh/id_*): callers
//   that want them add them when identityFiles is empty.

import { readdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { matchPatternList, matchWildcard } from './known-hosts.js';

const SETTING_KEYWORDS = ['hostname', 'user', 'port', 'identityfile', 'identitiesonly', 'proxyjump'] as const;
type SettingKeyword = (typeof SETTING_KEYWORDS)[number];

function isSettingKeyword(keyword: string): keyword is SettingKeyword {
  return (SETTING_KEYWORDS as readonly string[]).includes(keyword);
}

export type SshConfigItem =
  | { kind: 'host'; patterns: string[] }
  | { kind: 'match'; all: boolean }
  // `included` is filled by loadSshConfig, one config per file found.
  | { kind: 'include'; patterns: string[]; included: SshConfig[] }
  | { kind: 'setting'; keyword: SettingKeyword; value: string };

export interface SshConfig {
  items: SshConfigItem[];
}

export interface ResolvedSshHost {
  hostName: string;
  user?: string;
  port?: number;
  /** Configured files in order, with `~` and `%` tokens expanded. */
  identityFiles: string[];
  proxyJump?: string;
  identitiesOnly?: boolean;
}

/** Who is running ssh: needed for `~`, `%d`, `%u` and the default `%r`. */
export interface SshConfigContext {
  homeDir: string;
  localUser: string;
}

// OpenSSH's READCONF_MAX_DEPTH: guards against Include loops.
const MAX_INCLUDE_DEPTH = 16;

export function parseSshConfig(text: string, source = 'ssh config'): SshConfig {
  const items: SshConfigItem[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const fail = (message: string): never => {
      throw new Error(`${source} line ${index + 1}: ${message}`);
    };
    // Keyword, then whitespace and/or a single `=`, then the arguments.
    const parts = /^[ \t]*([^\s=#]+)(?:[ \t]*=[ \t]*|[ \t]+|$)(.*)$/.exec(line);
    if (!parts) return; // blank or comment
    const keyword = parts[1].toLowerCase();
    const args = splitArguments(parts[2]) ?? fail('unterminated quote');
    const isBlockKeyword = keyword === 'host' || keyword === 'match' || keyword === 'include';
    if (!isBlockKeyword && !isSettingKeyword(keyword)) return;
    if (args.length === 0) fail(`missing argument for ${parts[1]}`);

    if (keyword === 'host') items.push({ kind: 'host', patterns: args });
    else if (keyword === 'match') items.push({ kind: 'match', all: args.length === 1 && args[0].toLowerCase() === 'all' });
    else if (keyword === 'include') items.push({ kind: 'include', patterns: args, included: [] });
    else if (isSettingKeyword(keyword)) {
      if (args.length > 1) fail(`${parts[1]} takes one argument`);
      const value = args[0];
      // Reject what ssh rejects, even in blocks that do not apply to us.
      if (keyword === 'port' && parsePort(value) === undefined) fail(`bad port "${value}"`);
      if (keyword === 'identitiesonly' && parseFlag(value) === undefined) fail(`bad yes/no value "${value}"`);
      items.push({ kind: 'setting', keyword, value });
    }
  });
  return { items };
}

/**
 * OpenSSH argv_split: whitespace-separated, '…' and "…" quote, a backslash
 * escapes a quote, a backslash or (outside quotes) a space, and an unquoted
 * `#` starting an argument comments out the rest. undefined on an open quote.
 */
function splitArguments(text: string): string[] | undefined {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    if (text[i] === '#') break;
    let arg = '';
    let quote: string | undefined;
    for (; i < text.length; i++) {
      const c = text[i];
      const next = text[i + 1];
      if (!quote && (c === ' ' || c === '\t')) break;
      if (c === '\\' && (next === "'" || next === '"' || next === '\\' || (!quote && next === ' '))) {
        arg += next;
        i++;
      } else if (quote && c === quote) quote = undefined;
      else if (!quote && (c === '"' || c === "'")) quote = c;
      else arg += c;
    }
    if (quote) return undefined;
    args.push(arg);
  }
  return args;
}

function parsePort(value: string): number | undefined {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

function parseFlag(value: string): boolean | undefined {
  const lower = value.toLowerCase();
  if (lower === 'yes' || lower === 'true') return true;
  if (lower === 'no' || lower === 'false') return false;
  return undefined;
}

function currentUserContext(): SshConfigContext {
  return { homeDir: homedir(), localUser: userInfo().username };
}

/** The settings `ssh <alias>` would use. The first value obtained wins, except IdentityFile, which accumulates. */
export function resolveSshHost(config: SshConfig, alias: string, context: SshConfigContext = currentUserContext()): ResolvedSshHost {
  const first = new Map<SettingKeyword, string>();
  const identityTemplates: string[] = [];

  // An Include inside an inactive block can never apply (ssh's SSHCONF_NEVERMATCH);
  // each included file starts in the including block's state, which is restored after it.
  const apply = (items: SshConfigItem[], startActive: boolean, neverMatch: boolean): void => {
    let active = startActive;
    for (const item of items) {
      switch (item.kind) {
        case 'host':
          // Case-sensitive against the alias as typed, as in ssh.
          active = !neverMatch && matchPatternList(alias, item.patterns);
          break;
        case 'match':
          active = !neverMatch && item.all;
          break;
        case 'include':
          for (const file of item.included) apply(file.items, active, neverMatch || !active);
          break;
        case 'setting':
          if (!active) break;
          if (item.keyword === 'identityfile') identityTemplates.push(item.value);
          else if (!first.has(item.keyword)) first.set(item.keyword, item.value);
      }
    }
  };
  apply(config.items, true, false);

  // ssh expands %h in HostName to the alias as typed, then lower-cases the result.
  const hostNameTemplate = first.get('hostname');
  const hostName = (hostNameTemplate ? expandTokens(hostNameTemplate, { h: alias }, 'HostName') : alias).toLowerCase();
  const user = first.get('user');
  const portValue = first.get('port');
  const port = portValue === undefined ? undefined : parsePort(portValue);
  const identitiesOnlyValue = first.get('identitiesonly');
  const proxyJump = first.get('proxyjump');

  const tokens = {
    d: context.homeDir,
    h: hostName,
    n: alias,
    p: String(port ?? 22),
    r: user ?? context.localUser,
    u: context.localUser,
  };
  const identityFiles = identityTemplates.map((template) =>
    expandTokens(expandTilde(template, context.homeDir), tokens, 'IdentityFile'),
  );

  const resolved: ResolvedSshHost = { hostName, identityFiles };
  if (user !== undefined) resolved.user = user;
  if (port !== undefined) resolved.port = port;
  // `ProxyJump none` is a setting too: it stops later blocks from adding a jump host.
  if (proxyJump !== undefined && proxyJump.toLowerCase() !== 'none') resolved.proxyJump = proxyJump;
  if (identitiesOnlyValue !== undefined) resolved.identitiesOnly = parseFlag(identitiesOnlyValue);
  return resolved;
}

function expandTilde(path: string, homeDir: string): string {
  return path === '~' || path.startsWith('~/') ? homeDir + path.slice(1) : path;
}

/** ssh's percent_expand: unknown tokens are an error there, so they are here too. */
function expandTokens(template: string, tokens: Record<string, string>, keyword: string): string {
  return template.replace(/%(.?)/gs, (_match, key: string) => {
    if (key === '%') return '%';
    const value: string | undefined = tokens[key];
    if (value === undefined) throw new Error(`${keyword} "${template}": unsupported token %${key}`);
    return value;
  });
}

/**
 * Read and parse an ssh config with its Includes (relative ones are taken
 * from ~/.ssh, as for the user's config). A missing file is an empty config.
 */
export async function loadSshConfig(path?: string, homeDir = homedir()): Promise<SshConfig> {
  return loadConfigFile(path ?? join(homeDir, '.ssh', 'config'), homeDir, 0);
}

async function loadConfigFile(path: string, homeDir: string, depth: number): Promise<SshConfig> {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error(`${path}: too many nested Includes`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ssh skips Include targets that are missing or not regular files.
    if (code === 'ENOENT' || code === 'EISDIR') return { items: [] };
    throw error;
  }
  const config = parseSshConfig(text, path);
  for (const item of config.items) {
    if (item.kind !== 'include') continue;
    for (const pattern of item.patterns) {
      const expanded = expandTilde(pattern, homeDir);
      for (const file of await expandSimpleGlob(isAbsolute(expanded) ? expanded : join(homeDir, '.ssh', expanded))) {
        item.included.push(await loadConfigFile(file, homeDir, depth + 1));
      }
    }
  }
  return config;
}

/** Paths matching `*`/`?` in the last component, sorted like glob(3); [] for patterns we do not handle. */
async function expandSimpleGlob(path: string): Promise<string[]> {
  const directory = dirname(path);
  const namePattern = basename(path);
  if (/[*?[]/.test(directory) || namePattern.includes('[')) return [];
  if (!/[*?]/.test(namePattern)) return [path];
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  return names
    // Like glob(3), wildcards do not match a leading dot.
    .filter((name) => (!name.startsWith('.') || namePattern.startsWith('.')) && matchWildcard(name, namePattern))
    .sort()
    .map((name) => join(directory, name));
}
