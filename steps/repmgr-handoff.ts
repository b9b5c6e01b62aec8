import { dirname } from 'node:path';
import pg from 'pg';
import { WizardError } from '../src/errors.js';
import * as privileged from '../src/remote/commands.js';
import { byHandLine } from '../src/remote/host.js';
import { commandLine } from '../src/remote/quote.js';
import { where, type ChangeRecord, type Node, type PlannedAction } from './contract.js';
import { rewriteConfigFile, unifiedDiff } from './lib/config-files.js';
import { hostCidr, placeHbaLine, taggedLineNumbers, type HbaRule } from './lib/hba-rules.js';
import { fileOwner, livePasswordMethod, liveSetting, query, replaceHbaFile } from './lib/live-server.js';
import { findPassfileEntry, upsertPassfileEntry } from './lib/passfile.js';
import { verifierAccepts, verifierFor } from './lib/password-verifier.js';
import { pollUntil } from './lib/poll.js';
import { controlServer, serverControl, serverControlCommand, type ServerAction } from './lib/server-control.js';
import { listenAddressesCovering } from './primary-settings.js';

/**
 * The hand-off to repmgr (README "Hand-off to repmgr"): the primary and its standbys, set up
 * by this wizard or not, become a repmgr cluster that repmgrd can watch. The real repmgr does
 * the registering; the wizard writes what it needs on each node and proves the result with
 * `repmgr cluster show` and `repmgr node check`.
 */

/** The repmgr user and database (repmgr's documented defaults). */
export const repmgrUser = 'repmgr';
export const repmgrDatabase = 'repmgr';

export interface HandoffNode {
  /** repmgr's node_name: the standby's name, the primary's host name. */
  name: string;
  /** repmgr's node_id: 1 for the primary, then the standbys in the config file's order. */
  id: number;
  node: Node;
  upstreamId?: number;
}

interface NodeFiles {
  configPath: string;
  configBefore: string | null;
  config: string;
  hbaFile: string;
  hbaOwner: privileged.Privilege;
  hbaBefore: string;
  hba: string;
  passfile: string;
  passfileBefore: string | null;
  /** With the repmgr password for every node; never printed. */
  passfileAfter: string;
  /** The repmgr binary of the node's major. */
  binary: string;
  /** listen_addresses extended to the address in its conninfo (a standby cloned from the primary listens on the primary's), or undefined. */
  listenAddresses?: string;
  /** shared_preload_libraries with repmgr added (repmgrd needs it), or undefined when the server loads it already. */
  preloadLibraries?: string;
}

/** Both settings take a restart of the node. */
const needsRestart = (file: NodeFiles) => Boolean(file.listenAddresses || file.preloadLibraries);

export interface Handoff {
  nodes: HandoffNode[];
  files: NodeFiles[];
  /** Never printed. */
  password: string;
  roleExists: boolean;
  roleReady: boolean;
  databaseExists: boolean;
  replicationRole: string;
}

const hbaTagFor = (name: string) => `repmgr-${name}`;
const conninfo = (n: HandoffNode) => `host=${n.node.host.address} port=${n.node.cluster.port} user=${repmgrUser} dbname=${repmgrDatabase} connect_timeout=5`;

// repmgr runs these through a shell, without pg_bindir: full paths (the wizard's sudoers names the same ones).
const fullPaths: Record<string, string> = { pg_ctlcluster: '/usr/bin/pg_ctlcluster', systemctl: '/usr/bin/systemctl' };

/**
 * The command repmgr and repmgrd run, as the server's OS user, to start, stop, restart or reload
 * the node: the way the wizard controls it (pg_ctlcluster, systemctl, pg_ctl); what needs root
 * goes through sudo -n, for which that user needs a sudo rule.
 */
export function serviceCommand(n: HandoffNode, action: ServerAction | 'promote'): string {
  const control = action === 'promote' ? { as: 'postgres' as const, argv: ['pg_ctlcluster', ...n.node.cluster.id.split('/'), 'promote'] } : serverControl(n.node.cluster, action);
  const [program, ...args] = control.argv;
  return commandLine([...(control.as === 'root' ? ['sudo', '-n'] : []), fullPaths[program] ?? program, ...args]);
}

const serviceActions = ['start', 'stop', 'restart', 'reload'] as const;

/** repmgr.conf for one node: who it is, how every node reaches it, where its data and binaries are, how its server is controlled. */
export function repmgrConf(n: HandoffNode, replicationRole: string): string {
  const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;
  // pg_ctlcluster promotes too (repmgr's own promote is pg_ctl promote, which bypasses it).
  const promote = n.node.cluster.manager === 'pg_ctlcluster' ? [`service_promote_command=${quote(serviceCommand(n, 'promote'))}`] : [];
  return [
    '# written by pgrepl-wizard handoff; repmgr reads it with -f',
    `node_id=${n.id}`,
    `node_name=${quote(n.name)}`,
    `conninfo=${quote(conninfo(n))}`,
    `data_directory=${quote(n.node.cluster.dataDirectory)}`,
    `pg_bindir=${quote(n.node.cluster.binDir)}`,
    `replication_user=${quote(replicationRole)}`,
    // The standbys keep the slots they stream from; repmgr's own (repmgr_slot_<id>) would be new ones.
    'use_replication_slots=no',
    ...serviceActions.map((action) => `service_${action}_command=${quote(serviceCommand(n, action))}`),
    ...promote,
    '',
  ].join('\n');
}

/** Next to postgresql.conf when that lives outside the data directory (a clone would copy it otherwise), else the server user's home. */
const configPathFor = (n: HandoffNode, home: string) =>
  dirname(n.node.facts.configFile) === n.node.cluster.dataDirectory ? `${home}/repmgr.conf` : `${dirname(n.node.facts.configFile)}/repmgr.conf`;

async function repmgrBinary(n: HandoffNode): Promise<string> {
  const candidate = `/usr/lib/postgresql/${n.node.cluster.major}/bin/repmgr`;
  const found = await n.node.host.exec(privileged.pathExists(candidate), { as: 'postgres' });
  if (found.code === 0) return candidate;
  throw new WizardError(
    `repmgr for PostgreSQL ${n.node.cluster.major} is not installed (no ${candidate})`,
    where(n.node),
    `install it on every node first (Debian/Ubuntu: apt-get install postgresql-${n.node.cluster.major}-repmgr; RHEL: repmgr_${n.node.cluster.major} from PGDG); nothing was changed`,
  );
}

async function readFiles(n: HandoffNode, nodes: HandoffNode[], home: string, password: string): Promise<NodeFiles> {
  const configPath = configPathFor(n, home);
  const passfile = `${home}/.pgpass`;
  const [binary, hbaFile, configBefore, passfileBefore, method, firstRule, listen, preloaded, [libraryDir]] = await Promise.all([
    repmgrBinary(n),
    liveSetting(n.node, 'hba_file'),
    n.node.host.readFile(configPath, 'postgres'),
    n.node.host.readFile(passfile, 'postgres'),
    livePasswordMethod(n.node),
    query<Pick<HbaRule, 'line_number'>>(n.node, 'SELECT min(line_number) AS line_number FROM pg_hba_file_rules'),
    liveSetting(n.node, 'listen_addresses'),
    liveSetting(n.node, 'shared_preload_libraries'),
    query<{ setting: string }>(n.node, "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'"),
  ]);
  const preloadLibraries = await repmgrPreloaded(n, preloaded, libraryDir.setting);
  const listenAddresses = listenAddressesCovering(listen, n.node.host.address);
  if (listenAddresses !== undefined && n.id === 1) {
    throw new WizardError(
      `the primary does not listen on ${n.node.host.address} (listen_addresses = '${listen}'), where every repmgr node reaches it`,
      where(n.node),
      `add it to listen_addresses and restart the primary (or run pgrepl-wizard setup, which does), then run handoff again; nothing was changed`,
    );
  }
  const [hbaOwner, hbaBefore] = await Promise.all([fileOwner(n.node, hbaFile), n.node.host.readFile(hbaFile, 'postgres')]);
  // Every node reaches every other one (and itself) over TCP as repmgr, with a password.
  let hba = hbaBefore ?? '';
  for (const other of nodes) {
    const tag = hbaTagFor(other.name);
    const line = `${'host'.padEnd(8)}${repmgrDatabase.padEnd(16)}${repmgrUser.padEnd(16)}${hostCidr(other.node.host.address).padEnd(24)}${method.padEnd(16)}# pgrepl-wizard: ${tag}`;
    const tagged = taggedLineNumbers(hba, tag);
    hba = tagged.length === 1 && hba.split('\n')[tagged[0] - 1] === line ? hba : placeHbaLine(hba, line, tag, firstRule[0]?.line_number ?? undefined);
  }
  let passfileText = passfileBefore ?? '';
  for (const other of nodes) passfileText = upsertPassfileEntry(passfileText, other.node.host.address, other.node.cluster.port, repmgrUser, password, repmgrDatabase);
  return {
    configPath,
    configBefore,
    config: '',
    hbaFile,
    hbaOwner,
    hbaBefore: hbaBefore ?? '',
    hba,
    passfile,
    passfileBefore,
    passfileAfter: passfileText,
    binary,
    ...(listenAddresses ? { listenAddresses } : {}),
    ...(preloadLibraries ? { preloadLibraries } : {}),
  };
}

const preloadedLibraries = (setting: string) => setting.split(',').map((name) => name.trim().replace(/^"|"$/g, '')).filter(Boolean);

/**
 * shared_preload_libraries with repmgr added, or undefined when the server loads it already. The
 * library must be where the server loads libraries from: a server restarted with a library it
 * cannot find does not start.
 */
async function repmgrPreloaded(n: HandoffNode, preloaded: string, libraryDir: string): Promise<string | undefined> {
  const libraries = preloadedLibraries(preloaded);
  if (libraries.includes('repmgr')) return undefined;
  const library = `${libraryDir}/repmgr.so`;
  if ((await n.node.host.exec(privileged.pathExists(library), { as: 'postgres' })).code !== 0) {
    throw new WizardError(
      `repmgr's library for repmgrd is not where PostgreSQL ${n.node.cluster.major} loads libraries from (no ${library})`,
      where(n.node),
      `install repmgr for this server (Debian/Ubuntu: apt-get install postgresql-${n.node.cluster.major}-repmgr) on every node; nothing was changed`,
    );
  }
  return [...libraries, 'repmgr'].join(', ');
}

/** Reads every node and the primary's role and database: what the hand-off would change. Changes nothing. */
export async function readHandoff(nodes: HandoffNode[], homes: string[], givenPassword: string | undefined, replicationRole: string, generated: () => string): Promise<Handoff> {
  const primary = nodes[0];
  // Independent reads, asked together. A re-run keeps the password the primary's node already stores for repmgr, unless another is given.
  const [[role], [database], stored] = await Promise.all([
    query<{ rolpassword: string | null; rolsuper: boolean; rolcanlogin: boolean }>(primary.node, 'SELECT rolpassword, rolsuper, rolcanlogin FROM pg_authid WHERE rolname = $1', [repmgrUser]),
    query<{ datname: string }>(primary.node, 'SELECT datname FROM pg_database WHERE datname = $1', [repmgrDatabase]),
    primary.node.host.readFile(`${homes[0]}/.pgpass`, 'postgres'),
  ]);
  const kept = stored === null ? undefined : findPassfileEntry(stored, primary.node.host.address, primary.node.cluster.port, repmgrUser, repmgrDatabase);
  const password = givenPassword ?? kept ?? generated();
  const files = await Promise.all(nodes.map((n, i) => readFiles(n, nodes, homes[i], password)));
  files.forEach((file, i) => (file.config = repmgrConf(nodes[i], replicationRole)));
  return {
    nodes,
    files,
    password,
    roleExists: role !== undefined,
    roleReady: role !== undefined && role.rolsuper && role.rolcanlogin && verifierAccepts(role.rolpassword, password, repmgrUser),
    databaseExists: database !== undefined,
    replicationRole,
  };
}

const roleSql = (h: Handoff, verifier: string) => `${h.roleExists ? 'ALTER' : 'CREATE'} ROLE ${repmgrUser} WITH LOGIN SUPERUSER PASSWORD ${verifier}`;
const databaseSql = `CREATE DATABASE ${repmgrDatabase} OWNER ${repmgrUser}`;
const registerArgs = (n: HandoffNode): string[] =>
  n.id === 1 ? ['primary', 'register', '--force'] : ['standby', 'register', '--force', ...(n.upstreamId ? [`--upstream-node-id=${n.upstreamId}`] : [])];

/** The plan, host by host, in the order it runs. */
export function handoffPlan(h: Handoff): PlannedAction[] {
  const primary = h.nodes[0];
  const actions: PlannedAction[] = [];
  if (!h.roleReady) actions.push({ side: 'primary', summary: `${h.roleExists ? 'give' : 'create'} role ${repmgrUser} LOGIN SUPERUSER with its password (a SCRAM verifier computed locally; repmgr needs a superuser to create its extension)`, sql: roleSql(h, "'<SCRAM verifier>'") });
  if (!h.databaseExists) actions.push({ side: 'primary', summary: `create database ${repmgrDatabase} owned by ${repmgrUser} (it replicates to every standby)`, sql: databaseSql });
  h.nodes.forEach((n, i) => {
    const file = h.files[i];
    const side = n.id === 1 ? 'primary' : 'standby';
    const at = `on ${n.name} (${n.node.host.label})`;
    if (file.passfileAfter !== (file.passfileBefore ?? '')) actions.push({ side, summary: `${at}: store the ${repmgrUser} password for every node in ${file.passfile} (mode 0600, content through stdin): repmgr and repmgrd read it, no password in any command line or repmgr.conf` });
    if (file.hba !== file.hbaBefore) actions.push({ side, summary: `${at}: let ${repmgrUser} into database ${repmgrDatabase} from every node (${h.nodes.map((o) => o.node.host.address).join(', ')}) in pg_hba.conf (backed up, validated, reloaded)`, diff: unifiedDiff(file.hbaFile, file.hbaBefore, file.hba) });
    if (needsRestart(file)) {
      const settings = [
        ...(file.listenAddresses ? [`listen_addresses = '${file.listenAddresses}' (repmgr reaches it at ${n.node.host.address})`] : []),
        ...(file.preloadLibraries ? [`shared_preload_libraries = '${file.preloadLibraries}' (repmgrd needs repmgr's library loaded)`] : []),
      ];
      actions.push({
        side,
        summary: `${at}: ALTER SYSTEM SET ${settings.join(', ')} and restart it`,
        command: serverControlCommand(n.node.cluster, 'restart'),
        ...(n.id === 1 ? { destructive: 'restart-primary' as const } : {}),
      });
    }
    if (file.config !== file.configBefore) actions.push({ side, summary: `${at}: write ${file.configPath} (node_id ${n.id}, node_name ${n.name})`, diff: unifiedDiff(file.configPath, file.configBefore ?? '', file.config) });
  });
  h.nodes.forEach((n, i) => {
    actions.push({ side: n.id === 1 ? 'primary' : 'standby', summary: `on ${n.name}: register it with repmgr${n.upstreamId ? ` (upstream node ${n.upstreamId}: a cascade)` : ''}${n.id === 1 ? '' : ', once it has replayed the primary registration'}`, command: repmgrArgv(h, i, registerArgs(n)) });
  });
  actions.push({ side: 'primary', summary: `on ${primary.name}: repmgr cluster show must list every node as running; then repmgr node check on each node`, command: repmgrArgv(h, 0, ['cluster', 'show']) });
  return actions;
}

const replayTimeoutMs = 30_000;

/** Waits until a standby has replayed the primary's WAL up to now (the role, database and registration reach it so). */
async function replayed(primary: HandoffNode, standby: HandoffNode, signal: AbortSignal): Promise<void> {
  const [{ lsn }] = await query<{ lsn: string }>(primary.node, 'SELECT pg_current_wal_lsn()::text AS lsn');
  const done = await pollUntil(
    async () => ((await query<{ done: boolean }>(standby.node, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn]))[0]?.done ? true : undefined),
    { timeoutMs: replayTimeoutMs, intervalMs: 50, signal },
  );
  if (!done) throw new WizardError(`standby ${standby.name} did not replay the primary's WAL up to ${lsn} within ${replayTimeoutMs / 1000} s`, where(standby.node), 'make it stream first (pgrepl-wizard doctor --standby NAME), then run handoff again');
}

const repmgrArgv = (h: Handoff, index: number, args: string[]) => privileged.repmgr(h.files[index].binary, h.files[index].passfile, h.files[index].configPath, args);

async function runRepmgr(h: Handoff, index: number, args: string[]): Promise<string> {
  const n = h.nodes[index];
  const result = await n.node.host.exec(repmgrArgv(h, index, args), { as: 'postgres' });
  if (result.code !== 0) {
    throw new WizardError(`repmgr ${args.join(' ')} failed on ${n.name} (exit ${result.code}): ${[result.stdout, result.stderr].join('\n').trim()}`, where(n.node), 'read repmgr\'s message above; what was written so far stays (a re-run continues)');
  }
  return result.stdout + result.stderr;
}

/** The nodes repmgr lists, by name: its role and status column. */
export function clusterShowRows(output: string): { name: string; role: string; status: string }[] {
  const rows = output.split('\n').filter((line) => line.includes('|')).map((line) => line.split('|').map((cell) => cell.trim()));
  const header = rows.findIndex((cells) => cells.includes('Name') && cells.includes('Status'));
  if (header < 0) return [];
  const [name, role, status] = ['Name', 'Role', 'Status'].map((column) => rows[header].indexOf(column));
  return rows.slice(header + 1).map((cells) => ({ name: cells[name], role: cells[role], status: cells[status] }));
}

/** Does the hand-off: role and database, each node's passfile, pg_hba.conf and repmgr.conf, the registrations, the proof. */
export async function applyHandoff(h: Handoff, restartPrimary: boolean, recordChange: (change: ChangeRecord) => void, signal: AbortSignal): Promise<string[]> {
  const done: string[] = [];
  const primary = h.nodes[0];
  if (!h.roleReady) {
    await query(primary.node, roleSql(h, pg.escapeLiteral(verifierFor('scram-sha-256', h.password, repmgrUser))));
    recordChange({ side: 'primary', what: `${h.roleExists ? 'altered' : 'created'} role ${repmgrUser} (LOGIN SUPERUSER, password)`, undo: h.roleExists ? undefined : `DROP ROLE ${repmgrUser}` });
    done.push(`role ${repmgrUser} on the primary`);
  }
  if (!h.databaseExists) {
    await query(primary.node, databaseSql);
    recordChange({ side: 'primary', what: `created database ${repmgrDatabase}`, undo: `DROP DATABASE ${repmgrDatabase}` });
    done.push(`database ${repmgrDatabase}`);
  }
  for (const [i, n] of h.nodes.entries()) {
    const file = h.files[i];
    const side = n.id === 1 ? 'primary' : 'standby';
    const passfileText = file.passfileAfter;
    if (passfileText !== (file.passfileBefore ?? '')) {
      await n.node.host.writeFile(file.passfile, passfileText, { as: 'postgres', secretOwner: n.node.host.serverUser });
      recordChange({ side, what: `${n.name}: wrote the ${repmgrUser} password for every node into ${file.passfile} (mode 0600)` });
    }
    if (file.hba !== file.hbaBefore) {
      const { errors } = await replaceHbaFile(n.node, side, file.hbaFile, file.hba, file.hbaOwner, recordChange);
      if (errors.length > 0) {
        throw new WizardError(`${file.hbaFile} on ${n.name} has errors after the change (${errors.join('; ')}); the backup was put back`, where(n.node), 'correct the lines named and run handoff again');
      }
    }
    if (needsRestart(file)) {
      const settings = { listen_addresses: file.listenAddresses, shared_preload_libraries: file.preloadLibraries };
      const set = Object.entries(settings).filter((entry): entry is [string, string] => entry[1] !== undefined);
      for (const [name, value] of set) await query(n.node, `ALTER SYSTEM SET ${name} = ${pg.escapeLiteral(value)}`);
      const restart = n.id !== 1 || restartPrimary;
      if (restart) await controlServer(n.node, 'restart');
      const restartLine = byHandLine(n.node.host, serverControl(n.node.cluster, 'restart').as, serverControlCommand(n.node.cluster, 'restart'));
      recordChange({
        side,
        what: `${n.name}: ${set.map(([name, value]) => `${name} = '${value}'`).join(', ')} (ALTER SYSTEM, ${restart ? 'restarted' : `not restarted: it takes effect at the next restart, ${restartLine}`})`,
        undo: `ALTER SYSTEM RESET ${set.map(([name]) => name).join('; ALTER SYSTEM RESET ')}, then ${restartLine}`,
      });
    }
    if (file.config !== file.configBefore) {
      await rewriteConfigFile(n.node.host, side, file.configPath, file.config, 'postgres', recordChange, file.configBefore !== null);
    }
  }
  done.push(`passfile, pg_hba.conf and repmgr.conf on ${h.nodes.map((n) => n.name).join(', ')}`);
  await runRepmgr(h, 0, registerArgs(primary));
  // A standby registers through the primary's records it has replayed; upstreams come first in the list.
  for (const [i, n] of h.nodes.entries()) {
    if (i === 0) continue;
    await replayed(primary, n, signal);
    await runRepmgr(h, i, registerArgs(n));
  }
  done.push(`registered ${h.nodes.map((n) => n.name).join(', ')} with repmgr`);
  return [...done, await proveHandoff(h, signal), ...(await repmgrdReadiness(h))];
}

/** Whether repmgrd can start on every node now (repmgr's library loaded), and how to start it. */
async function repmgrdReadiness(h: Handoff): Promise<string[]> {
  const loaded = await Promise.all(h.nodes.map(async (n) => preloadedLibraries(await liveSetting(n.node, 'shared_preload_libraries')).includes('repmgr')));
  const waiting = h.nodes.filter((_, i) => !loaded[i]).map((n) => n.name);
  return [
    waiting.length > 0
      ? `repmgrd can start once ${waiting.join(', ')} ${waiting.length === 1 ? 'is' : 'are'} restarted (shared_preload_libraries names repmgr, not loaded yet)`
      : 'repmgrd can start on every node: shared_preload_libraries loads repmgr, repmgr.conf has the service commands',
    ...h.nodes.map((n, i) => `start repmgrd on ${n.name} as ${n.node.host.serverUser}: ${commandLine([h.files[i].binary.replace(/repmgr$/, 'repmgrd'), '-f', h.files[i].configPath])} (or with your service manager; Debian: REPMGRD_ENABLED=yes and REPMGRD_CONF in /etc/default/repmgrd)`),
    "failover stays manual until repmgr.conf sets failover=automatic, promote_command and follow_command (repmgr's documentation on automatic failover)",
  ];
}

/** `repmgr cluster show` on the primary lists every node as running, and `repmgr node check` passes on each. */
export async function proveHandoff(h: Handoff, signal: AbortSignal): Promise<string> {
  let rows: ReturnType<typeof clusterShowRows> = [];
  const listed = await pollUntil(
    async () => {
      rows = clusterShowRows(await runRepmgr(h, 0, ['cluster', 'show']).catch((error: Error) => error.message));
      return h.nodes.every((n) => rows.some((row) => row.name === n.name && /running/.test(row.status))) ? true : undefined;
    },
    { timeoutMs: replayTimeoutMs, intervalMs: 500, signal },
  );
  if (!listed) {
    throw new WizardError(
      `repmgr cluster show does not list every node as running: ${rows.map((row) => `${row.name} ${row.role} ${row.status}`).join('; ') || 'no nodes'}`,
      where(h.nodes[0].node),
      `run ${commandLine(repmgrArgv(h, 0, ['cluster', 'show']))} as ${h.nodes[0].node.host.serverUser} on the primary for repmgr's own view`,
    );
  }
  for (const [i] of h.nodes.entries()) await runRepmgr(h, i, ['node', 'check']);
  return `repmgr cluster show lists ${rows.map((row) => `${row.name} (${row.role}, ${row.status})`).join(', ')}; repmgr node check passes on every node`;
}
