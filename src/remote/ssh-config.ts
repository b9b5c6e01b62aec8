// Resolve a host alias through ~/.ssh/config the way `ssh -G` does, so the
// wizard connects with the same host name, user, port, keys and jump hosts
// the user already uses with plain `ssh`.
//
// Practical subset, deliberately:
// - Only HostName, User, Port, IdentityFile, IdentitiesOnly, ProxyJump and
//   ProxyCommand are read; other keywords are ignored (ssh itself would
//   apply them). ProxyCommand and DNS canonicalisation (CanonicalizeHostname
//   with CanonicalDomains) are refused where they apply, never ignored.
// - `Match` is judged like ssh judges it for the criteria all, host,
//   originalhost, user, localuser, canonical and final (with ssh's second,
//   "final" pass). A block that needs another criterion (exec, localnetwork,
//   tagged, ...) judged is refused with its file and line when it would set
//   something read here; when it sets nothing read here it cannot matter.
// - `Include` is resolved by loadSshConfig only (parseSshConfig does no I/O).
//   Globs are supported in the last path component only (`conf.d/*.conf`);
//   patterns with wildcards elsewhere, or with `[...]` classes, are skipped.
// - No default identity files are added (ssh -G lists ~/.ssh/id_*): callers
//   that want them add them when identityFiles is empty.

import { readdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { WizardError } from '../errors.js';
import { matchPatternList, matchWildcard } from './known-hosts.js';

const SETTING_KEYWORDS = [
  'hostname',
  'user',
  'port',
  'identityfile',
  'identitiesonly',
  'proxyjump',
  'proxycommand',
  'canonicalizehostname',
  'canonicaldomains',
] as const;
type SettingKeyword = (typeof SETTING_KEYWORDS)[number];

function isSettingKeyword(keyword: string): keyword is SettingKeyword {
  return (SETTING_KEYWORDS as readonly string[]).includes(keyword);
}

/** Match criteria judged here, and those ssh knows but that cannot be judged here. */
const JUDGED_CRITERIA = ['host', 'originalhost', 'user', 'localuser', 'canonical', 'final'];
const UNJUDGED_CRITERIA = ['exec', 'localnetwork', 'tagged', 'command', 'version', 'sessiontype'];
const CRITERIA_WITHOUT_ARGUMENT = ['all', 'canonical', 'final'];

export interface MatchCriterion {
  /** Lower-cased criterion name. */
  name: string;
  negate: boolean;
  /** The comma-separated pattern list; absent for all, canonical and final. */
  patterns?: string;
}

/** Where an item came from, for messages that send the operator to the line. */
export interface SourceLine {
  source: string;
  line: number;
}

export type SshConfigItem = SourceLine &
  (
    | { kind: 'host'; patterns: string[] }
    | { kind: 'match'; criteria: MatchCriterion[] }
    // `included` is filled by loadSshConfig, one config per file found.
    | { kind: 'include'; patterns: string[]; included: SshConfig[] }
    | { kind: 'setting'; keyword: SettingKeyword; value: string }
  );

export interface SshConfig {
  items: SshConfigItem[];
}

export interface ResolvedSshHost {
  hostName: string;
  user?: string;
  port?: number;
  /** Configured files in order, with `~` and `%` tokens expanded. */
  identityFiles: string[];
  /** The jump hosts in connection order, comma-separated as in the config. */
  proxyJump?: string;
  identitiesOnly?: boolean;
}

/** Who is running ssh: needed for `~`, `%d`, `%u`, `Match localuser` and the default `%r`. */
export interface SshConfigContext {
  homeDir: string;
  localUser: string;
}

/** What the command line already decided (`user@host:port`): it wins over the config, as in ssh. */
export interface CommandLineSettings {
  user?: string;
  port?: number;
}

// OpenSSH's READCONF_MAX_DEPTH: guards against Include loops.
const MAX_INCLUDE_DEPTH = 16;

export function parseSshConfig(text: string, source = 'ssh config'): SshConfig {
  const items: SshConfigItem[] = [];
  text.split(/\r?\n/).forEach((lineText, index) => {
    const at: SourceLine = { source, line: index + 1 };
    const fail = (message: string): never => {
      throw new Error(`${source} line ${index + 1}: ${message}`);
    };
    // Keyword, then whitespace and/or a single `=`, then the arguments.
    const parts = /^[ \t]*([^\s=#]+)(?:[ \t]*=[ \t]*|[ \t]+|$)(.*)$/.exec(lineText);
    if (!parts) return; // blank or comment
    const keyword = parts[1].toLowerCase();
    const isBlockKeyword = keyword === 'host' || keyword === 'match' || keyword === 'include';
    if (!isBlockKeyword && !isSettingKeyword(keyword)) return;
    // ssh takes ProxyCommand's whole remaining line as the command.
    if (keyword === 'proxycommand') {
      const command = parts[2].trim();
      if (!command) fail(`missing argument for ${parts[1]}`);
      items.push({ ...at, kind: 'setting', keyword, value: command });
      return;
    }
    const args = splitArguments(parts[2]) ?? fail('unterminated quote');
    if (args.length === 0) fail(`missing argument for ${parts[1]}`);

    if (keyword === 'host') items.push({ ...at, kind: 'host', patterns: args });
    else if (keyword === 'match') items.push({ ...at, kind: 'match', criteria: parseMatchCriteria(args, fail) });
    else if (keyword === 'include') items.push({ ...at, kind: 'include', patterns: args, included: [] });
    else if (isSettingKeyword(keyword)) {
      // CanonicalDomains is the one list-valued keyword read here.
      if (args.length > 1 && keyword !== 'canonicaldomains') fail(`${parts[1]} takes one argument`);
      const value = args.join(' ');
      // Reject what ssh rejects, even in blocks that do not apply to us.
      if (keyword === 'port' && parsePort(value) === undefined) fail(`bad port "${value}"`);
      if (keyword === 'identitiesonly' && parseFlag(value) === undefined) fail(`bad yes/no value "${value}"`);
      items.push({ ...at, kind: 'setting', keyword, value });
    }
  });
  return { items };
}

/** ssh's match_cfg_line syntax: `all` alone, `canonical`/`final` bare, the rest with a pattern list, `!` negates. */
function parseMatchCriteria(args: string[], fail: (message: string) => never): MatchCriterion[] {
  const criteria: MatchCriterion[] = [];
  for (let i = 0; i < args.length; i++) {
    const negate = args[i].startsWith('!');
    const name = (negate ? args[i].slice(1) : args[i]).toLowerCase();
    if (name === 'all' && (criteria.length > 1 || i < args.length - 1)) fail(`'${args[i]}' cannot be combined with other Match attributes`);
    if (!CRITERIA_WITHOUT_ARGUMENT.includes(name) && ![...JUDGED_CRITERIA, ...UNJUDGED_CRITERIA].includes(name)) {
      fail(`unsupported Match attribute ${name}`);
    }
    if (CRITERIA_WITHOUT_ARGUMENT.includes(name)) {
      criteria.push({ name, negate });
      continue;
    }
    const patterns = args[++i];
    if (patterns === undefined || patterns === '') fail(`missing Match criteria for ${name}`);
    criteria.push({ name, negate, patterns });
  }
  return criteria;
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

/**
 * The settings `ssh [user@]<alias>` would use. The first value obtained wins (the command
 * line's first), except IdentityFile, which accumulates. Throws a WizardError naming the
 * file and line when the answer depends on something not judged here.
 */
export function resolveSshHost(
  config: SshConfig,
  alias: string,
  context: SshConfigContext = currentUserContext(),
  commandLine: CommandLineSettings = {},
): ResolvedSshHost {
  const first = new Map<SettingKeyword, SshConfigItem & { kind: 'setting' }>();
  const identityTemplates: string[] = [];
  let wantFinalPass = false;

  // ssh expands %h in HostName to the alias as typed, then lower-cases the result.
  const expandedHostName = () => {
    const template = first.get('hostname')?.value;
    return template ? expandTokens(template, { h: alias }, 'HostName') : alias;
  };

  // One pass over the files, as ssh's process_config_files. `hostForHostLines` is the alias in
  // the first pass and the final host name in the second.
  const readPass = (finalPass: boolean, hostForHostLines: string): void => {
    const matchFacts = (): MatchFacts => ({
      host: finalPass ? hostForHostLines : expandedHostName(),
      originalHost: alias,
      user: commandLine.user ?? first.get('user')?.value ?? context.localUser,
      localUser: context.localUser,
      finalPass,
    });
    // An Include inside an inactive block can never apply (ssh's SSHCONF_NEVERMATCH);
    // each included file starts in the including block's state, which is restored after it.
    const apply = (items: SshConfigItem[], startActive: boolean, neverMatch: boolean): void => {
      let active = startActive;
      items.forEach((item, index) => {
        switch (item.kind) {
          case 'host':
            // Case-sensitive against the alias as typed, as in ssh.
            active = !neverMatch && matchPatternList(hostForHostLines, item.patterns);
            break;
          case 'match': {
            if (item.criteria.some((criterion) => criterion.name === 'final' && !criterion.negate)) wantFinalPass = true;
            const verdict = judgeMatch(item.criteria, matchFacts());
            const settings = verdict.kind === 'unjudged' && !neverMatch ? settingsOfBlock(items, index + 1) : [];
            if (verdict.kind === 'unjudged' && settings.length > 0) {
              throw new WizardError(
                `Match ${verdict.criterion} cannot be judged by pgrepl-wizard, and the block it starts sets ${settings.join(', ')}`,
                `${item.source} line ${item.line}`,
                'give these hosts their settings in a Host block (or a Match on host, originalhost, user or localuser), or pass them as [user@]host[:port] and -i',
              );
            }
            active = !neverMatch && verdict.kind === 'match';
            break;
          }
          case 'include':
            for (const file of item.included) apply(file.items, active, neverMatch || !active);
            break;
          case 'setting':
            if (!active) break;
            if (item.keyword === 'identityfile') {
              // ssh skips a file already listed.
              if (!identityTemplates.includes(item.value)) identityTemplates.push(item.value);
            } else if (item.keyword === 'proxycommand' || item.keyword === 'proxyjump') {
              // One slot in ssh: whichever of ProxyJump and ProxyCommand comes first wins.
              if (!first.has('proxyjump') && !first.has('proxycommand')) first.set(item.keyword, item);
            } else if (!first.has(item.keyword)) first.set(item.keyword, item);
        }
      });
    };
    apply(config.items, true, false);
  };

  readPass(false, alias);
  const canonicalize = first.get('canonicalizehostname');
  const canonicalizing = canonicalize !== undefined && !['no', 'none', 'false'].includes(canonicalize.value.toLowerCase());
  const canonicalDomains = first.get('canonicaldomains');
  if (canonicalizing && canonicalDomains) {
    throw new WizardError(
      `CanonicalizeHostname ${canonicalize.value} with CanonicalDomains would make ssh look host names up in DNS; pgrepl-wizard does not`,
      `${canonicalize.source} line ${canonicalize.line}`,
      'write the full host name in HostName (or pass it as --primary/--standby), or set CanonicalizeHostname no for this host',
    );
  }
  const hostName = expandedHostName().toLowerCase();
  // ssh reads the files again, with the final host name, for `Match final` and for canonicalisation.
  if (wantFinalPass || canonicalizing) readPass(true, hostName);

  const proxyCommand = first.get('proxycommand');
  if (proxyCommand && proxyCommand.value.toLowerCase() !== 'none') {
    throw new WizardError(
      `ProxyCommand is not supported (the wizard opens the SSH connections itself): ${proxyCommand.value}`,
      `${proxyCommand.source} line ${proxyCommand.line}`,
      'use ProxyJump for jump hosts (ProxyJump bastion, or ProxyJump first,second for several)',
    );
  }
  const user = commandLine.user ?? first.get('user')?.value;
  const portValue = first.get('port')?.value;
  const port = commandLine.port ?? (portValue === undefined ? undefined : parsePort(portValue));
  const identitiesOnlyValue = first.get('identitiesonly')?.value;
  const proxyJump = first.get('proxyjump')?.value;

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
  // Hops may be written as ssh:// URIs; ssh -G prints them as [user@]host[:port].
  if (proxyJump !== undefined && proxyJump.toLowerCase() !== 'none') {
    resolved.proxyJump = proxyJump
      .split(',')
      .map((hop) => hop.replace(/^ssh:\/\//, ''))
      .join(',');
  }
  if (identitiesOnlyValue !== undefined) resolved.identitiesOnly = parseFlag(identitiesOnlyValue);
  return resolved;
}

interface MatchFacts {
  /** HostName as far as known (the final host name in the final pass), else the alias. */
  host: string;
  originalHost: string;
  /** The remote user as far as known, else the local user. */
  user: string;
  localUser: string;
  finalPass: boolean;
}

type MatchVerdict = { kind: 'match' } | { kind: 'no-match' } | { kind: 'unjudged'; criterion: string };

/**
 * ssh's match_cfg_line: every criterion must hold. A criterion not judged here decides
 * nothing once another one has failed (ssh skips `exec` then too).
 */
function judgeMatch(criteria: MatchCriterion[], facts: MatchFacts): MatchVerdict {
  let unjudged: string | undefined;
  for (const criterion of criteria) {
    const holds = criterionHolds(criterion, facts);
    if (holds === undefined) unjudged ??= criterion.name;
    else if (holds === criterion.negate) return { kind: 'no-match' };
  }
  return unjudged ? { kind: 'unjudged', criterion: unjudged } : { kind: 'match' };
}

function criterionHolds(criterion: MatchCriterion, facts: MatchFacts): boolean | undefined {
  const patterns = criterion.patterns?.split(',') ?? [];
  // Host names compare case-insensitively (match_hostname), user names exactly.
  const hostMatches = (host: string) => matchPatternList(host.toLowerCase(), patterns.map((pattern) => pattern.toLowerCase()));
  switch (criterion.name) {
    case 'all':
      return true;
    case 'canonical':
    case 'final':
      return facts.finalPass;
    case 'host':
      return hostMatches(facts.host);
    case 'originalhost':
      return hostMatches(facts.originalHost);
    case 'user':
      return matchPatternList(facts.user, patterns);
    case 'localuser':
      return matchPatternList(facts.localUser, patterns);
    default:
      return undefined;
  }
}

/** What the block starting at `from` (up to the next Host or Match) sets of the keywords read here. */
function settingsOfBlock(items: SshConfigItem[], from: number): string[] {
  const settings: string[] = [];
  for (const item of items.slice(from)) {
    if (item.kind === 'host' || item.kind === 'match') break;
    if (item.kind === 'setting') settings.push(item.keyword);
    // An included file may set anything.
    if (item.kind === 'include' && item.included.some((file) => file.items.length > 0)) settings.push(`Include ${item.patterns.join(' ')}`);
  }
  return settings;
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
