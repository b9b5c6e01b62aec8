import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './errors.js';

/** The replication role's password: from the environment, never from a flag or the config file. */
export const passwordEnv = 'PGREPL_PASSWORD';

/** The shortest replication password the wizard sets: PostgreSQL's passwordcheck module refuses shorter ones too. */
export const minPasswordLength = 8;

/**
 * A replication password given to be set (`from`: PGREPL_PASSWORD, or the prompt) that is too
 * short, as a usage error naming the rule; never the password itself.
 */
export function shortPasswordProblem(password: string, from: string): UsageError | undefined {
  if (password.length >= minPasswordLength) return undefined;
  return new UsageError(
    `${from} is ${password.length} characters long; the replication role's password must have at least ${minPasswordLength}; nothing was changed`,
    `give a password of ${minPasswordLength} characters or more in ${passwordEnv}, or leave it unset: setup then keeps the password the standby logs in with, or generates a strong one`,
  );
}
/** The SSH login user's sudo password, when sudo asks for one: one for both hosts, or one per host (it wins). */
export const sudoPasswordEnvs = { both: 'PGREPL_SUDO_PASSWORD', primary: 'PGREPL_PRIMARY_SUDO_PASSWORD', standby: 'PGREPL_STANDBY_SUDO_PASSWORD' } as const;

export const commands = ['wizard', 'inspect', 'setup', 'doctor', 'status', 'remove', 'sync', 'handoff'] as const;
export type Command = (typeof commands)[number];

/**
 * Every option, with its flag, its config-file key (the camelCase name) and its help line.
 * --help is written from this list; a unit test checks README documents every flag.
 */
export const optionSpecs = {
  primary: { type: 'string', help: 'primary host as [user@]host[:port] (aliases from ~/.ssh/config work)' },
  standby: { type: 'string', help: "standby host as [user@]host[:port], or with a config file's standbys list the name of the one this run works on" },
  upstream: { type: 'string', help: "setup, doctor, status, inspect: a cascaded standby's upstream, another standby it clones from and streams from ([user@]host[:port], or with a config file's standbys list that standby's name)" },
  'upstream-cluster': { type: 'string', help: 'cluster on the upstream, same forms as --primary-cluster' },
  'primary-cluster': { type: 'string', help: 'cluster on the primary: 15/main, its name, data directory or port (asked when several)' },
  'standby-cluster': { type: 'string', help: 'cluster on the standby, same forms' },
  'primary-bindir': { type: 'string', help: "directory of the primary's server binaries (postgres, pg_ctl) when they are found nowhere else" },
  'standby-bindir': { type: 'string', help: "same for the standby's" },
  'tablespace-map': { type: 'string', help: "setup, doctor --fix: OLD=NEW[,OLD=NEW]: clone the primary's tablespace at OLD into NEW on the standby (default: the same path)" },
  identity: { type: 'string', short: 'i', help: 'SSH private key file (default: ~/.ssh/config IdentityFile, then ~/.ssh/id_*; ssh-agent is used when SSH_AUTH_SOCK is set)' },
  'known-hosts': { type: 'string', help: 'known_hosts file used to verify host keys (default ~/.ssh/known_hosts)' },
  'ssh-config': { type: 'string', help: 'ssh client config to read aliases from (default ~/.ssh/config)' },
  role: { type: 'string', help: 'setup: replication role to create on the primary (default repl); its password comes from PGREPL_PASSWORD, the prompt, or is generated' },
  'rotate-password': { type: 'boolean', help: "setup: change the replication role's password on both ends (the primary's role, the standby's passfile) to PGREPL_PASSWORD (or the prompt's, or a generated one); without it a working password is kept" },
  slot: { type: 'string', help: "setup: physical replication slot name, also the standby's application_name (default pgrepl_<standby host>; a named standby's name)" },
  'primary-address': { type: 'string', help: 'setup: address the standby uses to reach the primary (default: the primary SSH address)' },
  'standby-address': { type: 'string', help: 'setup: address the primary sees the standby connect from (default: detected with ip route get)' },
  'ssl-root-cert': { type: 'string', help: "setup: the CA certificate (PEM file on this workstation) that signed the primary's server certificate: copied to the standby, which then replicates with sslmode=verify-full (without it, a primary with ssl = on gets sslmode=require)" },
  'archive-dir': { type: 'string', help: 'setup: also archive WAL into this directory on the primary (archive_mode=on)' },
  'standby-archive-dir': { type: 'string', help: "setup: the same archive as the standby reads it (a shared mount, usually --archive-dir's path): the standby restores WAL the primary no longer has from it (restore_command) and removes what it no longer needs (archive_cleanup_command)" },
  checkpoint: { type: 'string', help: 'setup: pg_basebackup checkpoint, fast (default) or spread (gentler, can wait minutes)' },
  'wal-log-hints': { type: 'boolean', help: 'setup: also set wal_log_hints = on (a restart of the primary; the standby gets it with the clone), so that doctor --fix can later rewind a forked standby with pg_rewind instead of cloning it again' },
  'discard-old-data': { type: 'boolean', help: "setup: delete the standby's previous data directory after a good clone (default: keep it renamed)" },
  'restart-primary': { type: 'boolean', help: 'setup, doctor --fix: allow restarting the primary when a changed setting needs it (headless runs stop before it otherwise)' },
  plan: { type: 'boolean', help: 'setup, remove, sync, handoff: print the whole plan as a runbook and change nothing' },
  'sync-first': { type: 'string', help: 'sync: FIRST N: each commit waits for the first N of the named standbys that stream (priority, in --sync-names order)' },
  'sync-any': { type: 'string', help: 'sync: ANY N: each commit waits for any N of the named standbys (quorum)' },
  'sync-names': { type: 'string', help: "sync: the standbys of the list, comma-separated, in priority order (default: the config file's standbys, else those streaming now)" },
  'sync-off': { type: 'boolean', help: 'sync: turn synchronous replication off (synchronous_standby_names empty)' },
  'synchronous-commit': { type: 'string', help: 'sync: also set synchronous_commit server-wide: remote_apply, on, remote_write, local or off' },
  fix: { type: 'boolean', help: 'doctor: repair what it found (shows the plan, asks; headless needs --yes), then diagnose again' },
  'drop-slot': { type: 'string', help: 'doctor --fix: drop these inactive replication slots (comma-separated names), which it never drops unasked' },
  watch: { type: 'boolean', help: 'status: refresh every second (with a chart of the lag) until Ctrl-C' },
  'max-lag': { type: 'string', help: 'status: a standby needs attention above this replay_lag and/or unreplayed WAL, e.g. 30s, 64MB or 30s,64MB (default 30s,64MB)' },
  'max-retained': { type: 'string', help: 'status: a slot needs attention when it retains more WAL than this, e.g. 10GB (default 10GB)' },
  config: { type: 'string', help: 'YAML file with any of these options (flags win over it)' },
  'sudoers-for': { type: 'string', help: 'inspect: print the sudo rules for this login user instead of the one logged in (to grant them to an operator account)' },
  json: { type: 'boolean', help: 'print one JSON document on stdout instead of text' },
  timings: { type: 'boolean', help: 'setup: print on stderr, when the run ends, how long each phase took (start, connecting, discovery, each precheck, each step)' },
  yes: { type: 'boolean', short: 'y', help: 'answer yes to confirmations (headless runs)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', help: 'print the version' },
} as const satisfies Record<string, { type: 'string' | 'boolean'; short?: string; help: string }>;

type Specs = typeof optionSpecs;
type OptionName = keyof Specs;
type ValueOf<K extends OptionName> = Specs[K]['type'] extends 'string' ? string : boolean;
type CamelCase<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<CamelCase<B>>}` : S;
/** What the environment contributes, read once by parseOptions and carried down; never from the config file. */
export interface FromEnvironment {
  /** PGREPL_PASSWORD: the replication role's password. */
  password?: string;
  /** SSH_AUTH_SOCK: the ssh-agent to try first. */
  sshAgentSocket?: string;
  /** Each host's sudo password (PGREPL_PRIMARY_/STANDBY_SUDO_PASSWORD, else PGREPL_SUDO_PASSWORD); used only when sudo asks. */
  sudoPasswords?: { primary?: string; standby?: string };
  /** PGREPL_SSH_TIMEOUT (seconds): how long a silent host is waited for before its connection counts as lost. */
  sshDeadAfterMs?: number;
  /** PGREPL_STREAMING_TIMEOUT (seconds): how long setup's last step waits for the standby to stream, and for its canary. */
  streamingWaitMs?: number;
  /** PGREPL_REPMGR_PASSWORD: the repmgr user's password for handoff. */
  repmgrPassword?: string;
}

/** handoff: the repmgr user's password, from the environment only. */
export const repmgrPasswordEnv = 'PGREPL_REPMGR_PASSWORD';

/** Seconds a host may answer nothing before the run gives it up (default in src/remote/connect.ts: 40). */
export const sshTimeoutEnv = 'PGREPL_SSH_TIMEOUT';

/** Seconds setup waits for the standby to stream, and again for its canary (default in steps/verify-streaming.ts: 60 and 30). */
export const streamingTimeoutEnv = 'PGREPL_STREAMING_TIMEOUT';

/** An environment variable's whole seconds (at least 2) as milliseconds; undefined when unset. */
function secondsFrom(name: string, value: string | undefined, example: number): number | undefined {
  if (!value) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 2) throw new UsageError(`${name}=${value} is not a number of seconds (2 or more)`, `set ${name} to whole seconds, e.g. ${example}, or unset it`);
  return Number(value) * 1000;
}
export type Options = { command: Command } & { [K in OptionName as CamelCase<K>]?: ValueOf<K> } & FromEnvironment & {
  /** The config file's standbys that stream from the primary itself (no upstream), in its order: status judges each; sync builds its list over them. */
  standbyNames?: string[];
  /** The config file's whole `standbys:` list (handoff works on every standby). */
  standbyList?: NamedStandby[];
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const fileKeys = new Map(
  Object.keys(optionSpecs)
    .filter((flag) => !['config', 'help', 'version'].includes(flag))
    .map((flag) => [camel(flag), flag]),
);

export async function parseOptions(argv: string[], env = process.env): Promise<Options> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: optionSpecs, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message, 'run pgrepl-wizard --help for the list of commands and flags');
  }
  const [command = 'wizard', ...extra] = parsed.positionals;
  if (!(commands as readonly string[]).includes(command) || extra.length > 0) {
    throw new UsageError(`unknown command "${[command, ...extra].join(' ')}"`, `use one of: ${commands.filter((c) => c !== 'wizard').join(', ')}, or no command for the interactive wizard`);
  }
  const configPath = parsed.values.config ?? (env.PGREPL_CONFIG || undefined);
  const { values: fromFile, standbys } = configPath ? await readConfigFile(configPath) : { values: {}, standbys: undefined };
  const fromFlags = Object.fromEntries(Object.entries(parsed.values).map(([flag, value]) => [camel(flag), value]));
  const sudoFor = (role: 'primary' | 'standby') => env[sudoPasswordEnvs[role]] || env[sudoPasswordEnvs.both] || undefined;
  const environment: FromEnvironment = {
    password: env[passwordEnv] || undefined,
    sshAgentSocket: env.SSH_AUTH_SOCK || undefined,
    sudoPasswords: { primary: sudoFor('primary'), standby: sudoFor('standby') },
    sshDeadAfterMs: secondsFrom(sshTimeoutEnv, env[sshTimeoutEnv], 40),
    streamingWaitMs: secondsFrom(streamingTimeoutEnv, env[streamingTimeoutEnv], 60),
    repmgrPassword: env[repmgrPasswordEnv] || undefined,
  };
  // The commands that set the role's password to it refuse a weak one before connecting.
  const setsPassword = command === 'setup' || command === 'wizard' || (command === 'doctor' && parsed.values.fix);
  const tooShort = setsPassword && environment.password !== undefined ? shortPasswordProblem(environment.password, passwordEnv) : undefined;
  if (tooShort) throw tooShort;
  // sync and handoff work on the primary and the whole list: they need no standby picked.
  const wholeList = (command === 'sync' && fromFlags.standby === undefined) || command === 'handoff';
  const picked = standbys && !wholeList ? pickStandby(standbys, fromFlags, configPath!) : {};
  const fromList = standbys
    ? {
        standby: picked.standby,
        upstream: picked.upstream,
        upstreamCluster: fromFlags.upstreamCluster ?? picked.upstreamCluster,
        standbyNames: standbys.filter((entry) => !entry.upstream).map((entry) => entry.name),
        standbyList: standbys,
      }
    : {};
  return { ...fromFile, ...picked, ...fromFlags, ...fromList, ...environment, command: command as Command } as Options;
}

/**
 * One entry of the config file's `standbys:` list. Every standby is a named node: its name is
 * its replication slot on the primary and the application_name it reports (primary_conninfo),
 * unique across the topology, chosen when it is set up and never changed afterwards (renaming
 * a slot means re-creating it).
 */
export interface NamedStandby {
  name: string;
  host: string;
  cluster?: string;
  bindir?: string;
  address?: string;
  /** The name of the standby it streams from (a cascade); absent: the primary. */
  upstream?: string;
}

/** Each entry key and the option it sets for the run that picks the entry. */
const standbyEntryOptions = { name: 'slot', host: 'standby', cluster: 'standbyCluster', bindir: 'standbyBindir', address: 'standbyAddress', upstream: 'upstream' } as const;

/** Why a replication slot (and standby) name is refused, or undefined when PostgreSQL takes it. */
export const slotNameProblem = (name: string) =>
  /^[a-z0-9_]{1,63}$/.test(name) ? undefined : `"${name}" is not a valid replication slot name (lower-case letters, digits, underscores, at most 63)`;

/**
 * The standby a run works on, from the config file's list: the one --standby names, or the
 * only one. Its entry gives the host, cluster, bindir, address and the slot (its name).
 */
function pickStandby(standbys: NamedStandby[], flags: Record<string, unknown>, path: string): Record<string, string> {
  const names = standbys.map((entry) => entry.name).join(', ');
  const wanted = flags.standby as string | undefined;
  if (wanted === undefined && standbys.length > 1) {
    throw new UsageError(`config file ${path} lists several standbys (${names})`, 'pick the one this run works on with --standby NAME');
  }
  const entry = wanted === undefined ? standbys[0] : standbys.find((candidate) => candidate.name === wanted);
  if (!entry) {
    throw new UsageError(
      `--standby ${wanted} names none of the standbys in config file ${path} (${names})`,
      `pass one of those names, or add the standby to "standbys:" with its name and host`,
    );
  }
  if (flags.slot !== undefined && flags.slot !== entry.name) {
    throw new UsageError(
      `--slot ${flags.slot as string} differs from standby ${entry.name}'s name, which is its slot`,
      'leave --slot out: a named standby streams from the slot of its own name',
    );
  }
  const picked: Record<string, string> = Object.fromEntries(
    Object.entries(standbyEntryOptions)
      .filter(([key]) => entry[key as keyof NamedStandby] !== undefined && key !== 'upstream')
      .map(([key, option]) => [option, entry[key as keyof NamedStandby]!]),
  );
  return { ...picked, ...upstreamOf(standbys, entry, flags.upstream as string | undefined, path) };
}

/**
 * A cascaded standby's upstream from the list: --upstream NAME or the entry's `upstream:`
 * names another standby, whose host and cluster the run connects to; "primary" (or neither)
 * means the primary itself.
 */
function upstreamOf(standbys: NamedStandby[], entry: NamedStandby, flag: string | undefined, path: string): Record<string, string> {
  const name = flag ?? entry.upstream;
  if (name === undefined || name === 'primary') return {};
  const upstream = standbys.find((candidate) => candidate.name === name);
  if (!upstream || upstream === entry) {
    throw new UsageError(
      `standby ${entry.name}'s upstream ${name} is ${upstream ? 'itself' : `none of the standbys in config file ${path} (${standbys.map((s) => s.name).join(', ')})`}`,
      'name another standby of the list as its upstream, or "primary"',
    );
  }
  return { upstream: upstream.host, ...(upstream.cluster ? { upstreamCluster: upstream.cluster } : {}) };
}

/** `standbys:` checked: a list of mappings with a valid, unique name, a host and known keys only. */
function readStandbys(value: unknown, path: string): NamedStandby[] {
  const bad = (problem: string): never => {
    throw new UsageError(`config file ${path}: ${problem}`, 'see "Several standbys" in README');
  };
  if (!Array.isArray(value) || value.length === 0) return bad('"standbys" must be a list of standbys, each with a name and a host');
  const seen = new Set<string>();
  return value.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return bad(`standbys entry ${index + 1} must be a mapping (name: …, host: …)`);
    const fields = entry as Record<string, unknown>;
    for (const [key, field] of Object.entries(fields)) {
      if (!(key in standbyEntryOptions)) bad(`standbys entry ${index + 1} has an unknown key "${key}" (known: ${Object.keys(standbyEntryOptions).join(', ')})`);
      if (typeof field !== 'string' && typeof field !== 'number') bad(`standbys entry ${index + 1}: "${key}" must be a string`);
    }
    const named = Object.fromEntries(Object.entries(fields).map(([key, field]) => [key, String(field)])) as Partial<NamedStandby>;
    if (!named.name) return bad(`standbys entry ${index + 1} has no name (its slot and application_name)`);
    if (!named.host) return bad(`standby ${named.name} has no host`);
    const problem = slotNameProblem(named.name);
    if (problem) bad(`standby name ${problem}`);
    if (seen.has(named.name)) bad(`two standbys are named ${named.name}: a name is a slot on the primary and must be unique`);
    seen.add(named.name);
    return named as NamedStandby;
  });
}

async function readConfigFile(path: string): Promise<{ values: Record<string, unknown>; standbys?: NamedStandby[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`, 'check the path given to --config');
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, 'fix the file');
  }
  if (data === null || data === undefined) return { values: {} };
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`config file ${path} must be a mapping of option: value`, 'see "Config file" in README');
  }
  const { standbys, ...rest } = data as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    const flag = fileKeys.get(key);
    if (!flag) {
      throw new UsageError(`config file ${path} has an unknown key "${key}"`, `use the camelCase names of the flags: ${[...fileKeys.keys()].join(', ')}, or standbys`);
    }
    const expected = optionSpecs[flag as OptionName].type;
    const normalized = expected === 'string' && typeof value === 'number' ? String(value) : value;
    if (typeof normalized !== expected) {
      throw new UsageError(`config file ${path}: "${key}" must be a ${expected}`, 'fix the value in the file');
    }
    result[key] = normalized;
  }
  if (standbys === undefined) return { values: result };
  const clashing = ['standby', 'slot', 'standbyCluster', 'standbyBindir', 'standbyAddress', 'upstream', 'upstreamCluster'].filter((key) => key in result);
  if (clashing.length > 0) {
    throw new UsageError(`config file ${path} has both "standbys" and ${clashing.map((key) => `"${key}"`).join(', ')}`, 'give each standby its host, cluster, bindir, address and upstream inside its "standbys" entry');
  }
  return { values: result, standbys: readStandbys(standbys, path) };
}

export function helpText(): string {
  const lines = Object.entries(optionSpecs).map(([flag, spec]) => {
    const short = 'short' in spec ? `-${spec.short}, ` : '    ';
    const arg = spec.type === 'string' ? ' VALUE' : '';
    return `  ${short}--${flag}${arg}`.padEnd(34) + spec.help;
  });
  return [
    'pgrepl-wizard: set up and repair PostgreSQL streaming replication over SSH',
    '',
    'Usage: pgrepl-wizard [command] [options]',
    '',
    'Commands:',
    '  (none)     interactive wizard (needs a terminal)',
    '  inspect    report what was found on both hosts',
    '  setup      build a streaming standby (headless; --plan to only print the plan)',
    '  doctor     diagnose the pair from both servers\' state and logs (--fix to repair; exit 1 on errors)',
    '  status     how replication stands: lag, replay paused, slots, pg_wal (--watch, --json; exit 1 when it needs attention)',
    '  remove     take a named standby (--standby NAME) off the primary: out of synchronous_standby_names, its pg_hba.conf line, its connection, its slot (--plan, --yes)',
    '  sync       synchronous replication on the primary: FIRST n or ANY n of the standbys (--sync-first/--sync-any N, --sync-names), or --sync-off; proven with sync_state and a canary commit',
    '  handoff    hand the primary and every standby of the config to repmgr: repmgr.conf, its user and database, registered (--plan, --yes)',
    '',
    'Options:',
    ...lines,
    '',
    'Environment: PGREPL_PASSWORD (replication role password), PGREPL_SUDO_PASSWORD (the SSH user\'s sudo',
    'password, when sudo asks for one; PGREPL_PRIMARY_SUDO_PASSWORD / PGREPL_STANDBY_SUDO_PASSWORD per host),',
    'PGREPL_REPMGR_PASSWORD (handoff: the repmgr user\'s password), PGREPL_CONFIG (config file when --config is not given), SSH_AUTH_SOCK (ssh-agent), PGREPL_SSH_TIMEOUT (seconds',
    'a silent host is waited for before its connection counts as lost; default 40), PGREPL_STREAMING_TIMEOUT (seconds',
    'setup waits for the standby to stream, and for its canary to be replayed; default 60 and 30).',
    'Exit codes: 0 success, 1 failure, 2 usage error.',
  ].join('\n');
}
