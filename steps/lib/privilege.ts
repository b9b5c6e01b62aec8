import { WizardError } from '../../src/errors.js';
import type { Host } from '../../src/remote/host.js';
import * as privileged from '../../src/remote/commands.js';
import type { Privilege, PrivilegedArgv } from '../../src/remote/commands.js';
import { commandLine } from '../../src/remote/quote.js';
import { where, type Node, type StepContext } from '../contract.js';
import { sideDirectory } from './clone-prechecks.js';
import { fileOwner } from './live-server.js';
import { serverControl, type ServerAction } from './server-control.js';
import { primaryTablespaces } from './tablespaces.js';

const parentOf = (path: string) => path.replace(/\/[^/]+\/?$/, '') || '/';

/**
 * Who creates, renames and removes the directories the wizard makes (the clone's, the WAL
 * archive): the server's OS user when it may write every parent (Debian's
 * /var/lib/postgresql/N, a hand-installed server's own tree), else root, with plain
 * mv/rm/install.
 */
export async function directoryUser(host: Host, paths: readonly string[]): Promise<Privilege> {
  const parents = [...new Set(paths.map(parentOf))];
  const writable = await Promise.all(parents.map((parent) => host.exec(privileged.isWritable(parent), { as: 'postgres' })));
  return writable.every((result) => result.code === 0) ? 'postgres' : 'root';
}


/** A command this run will have to run as root, found before any change. */
export interface RootNeed {
  node: Node;
  argv: PrivilegedArgv<'root'>;
  /** The registry's case: why the server's OS user is not enough. */
  why: string;
  /** The operator can run it by hand beforehand, after which the run no longer needs it. */
  byHand: boolean;
}

const need = (node: Node, command: { rootWhen?: string }, argv: PrivilegedArgv<'root'>, byHand = false): RootNeed => ({ node, argv, why: command.rootWhen!, byHand });

/**
 * What setup will run as root on each host, from the facts: a server systemd starts and
 * stops, directories in places the server user may not write, a root-owned pg_hba.conf, a
 * passfile of another user. Read-only.
 */
export async function rootNeeds(ctx: StepContext, cloning: boolean): Promise<RootNeed[]> {
  const { primary, standby, settings } = ctx;
  const control = (node: Node, action: ServerAction): RootNeed[] => {
    const run = serverControl(node.cluster, action);
    return run.as === 'root' ? [need(node, node.cluster.manager === 'systemctl' ? privileged.systemctl : privileged.pgCtlCluster, run.argv)] : [];
  };
  const hba = async (): Promise<RootNeed[]> =>
    (await fileOwner(primary, primary.facts.hbaFile)) === 'root' ? [need(primary, privileged.teeFile, privileged.teeFile(primary.facts.hbaFile))] : [];
  const archive = async (): Promise<RootNeed[]> => {
    const dir = settings.archiveDir;
    if (!dir?.startsWith('/') || (await directoryUser(primary.host, [dir])) !== 'root') return [];
    const state = await primary.host.exec(privileged.statPath('%U %a', dir), { as: 'postgres' });
    return state.stdout.trim() === `${primary.host.serverUser} 700` ? [] : [need(primary, privileged.makeServerDirectory, privileged.makeServerDirectory(primary.host.serverUser, dir), true)];
  };
  const passfile = async (): Promise<RootNeed[]> => {
    const owner = await standby.host.exec(privileged.statPath('%U', settings.passfile), { as: 'postgres' });
    return owner.code === 0 && owner.stdout.trim() !== standby.host.serverUser
      ? [need(standby, privileged.giveToServerUser, privileged.giveToServerUser(standby.host.serverUser, settings.passfile), true)]
      : [];
  };
  const clone = async (): Promise<RootNeed[]> => {
    if (!cloning) return [];
    const dir = standby.cluster.dataDirectory;
    const targets = (await primaryTablespaces(ctx)).map((t) => t.target);
    const moving = (await directoryUser(standby.host, [dir, ...targets])) === 'root' ? [need(standby, privileged.movePath, privileged.movePath(sideDirectory(dir), dir))] : [];
    return [...control(standby, 'stop'), ...moving];
  };
  // Independent questions, asked at once rather than one round trip after another; the needs keep this order.
  return (await Promise.all([control(primary, 'restart'), hba(), archive(), passfile(), clone()])).flat();
}

/**
 * Does sudo say no to argv as root? `sudo -l COMMAND` asks the policy without running
 * anything. Only a plain no counts: a sudo that wants a password before it answers is not
 * a refusal (the run asks it in its own way).
 */
async function rootRefused(host: Host, argv: PrivilegedArgv<'root'>): Promise<boolean> {
  if (host.loginUser === 'root') return false;
  const answer = await host.exec(['sudo', '-n', '-l', '--', ...argv]);
  return answer.code !== 0 && !/password is required/.test(answer.stderr);
}

/**
 * Refuses a run that will need root where the login user may not have it, before anything
 * changes: each command, why it needs root, and what the operator can do.
 */
export async function requireRoot(ctx: StepContext, cloning: boolean): Promise<void> {
  const needs = await rootNeeds(ctx, cloning);
  const refused = await Promise.all(needs.map((item) => rootRefused(item.node.host, item.argv)));
  const missing = needs.filter((_, i) => refused[i]);
  if (missing.length === 0) return;
  const { node } = missing[0];
  const user = node.host.loginUser;
  const shown = (item: RootNeed) => commandLine(item.argv);
  throw new WizardError(
    `setup needs root on the ${missing.map((item) => item.node.host.role).filter((role, i, all) => all.indexOf(role) === i).join(' and ')} for ${missing
      .map((item) => `"${shown(item)}", as ${item.why}`)
      .join('; ')}, and ${user} may not run ${missing.length === 1 ? 'it' : 'them'} as root (sudo -l says no); nothing was changed`,
    missing.map((item) => where(item.node)).filter((place, i, all) => all.indexOf(place) === i).join(', '),
    [
      ...missing.filter((item) => item.byHand).map((item) => `run as root on the ${item.node.host.role}: ${shown(item)}`),
      ...missing.filter((item) => !item.byHand).map((item) => `let ${item.node.host.loginUser} run it as root (see the sudo rules pgrepl-wizard inspect prints) or log in as root`),
    ].join('; ') + '; then run setup again',
  );
}
