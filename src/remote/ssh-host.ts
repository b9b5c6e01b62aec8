import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import type pg from 'pg';
import { CommandInterrupted, ConnectionLost, SudoRefusedMidRun, WizardError } from '../errors.js';
import { type ArgvFor, type ClusterAddress, type ExecOptions, type ExecResult, type Host, type RunAs, type SqlRow, type WriteFileOptions, privilegeWrapper, splitWrapperStderr } from './host.js';
import * as privileged from './commands.js';
import { awakeTimeout } from './awake-timeout.js';
import { PasswordDemanded, connectPg } from './pg-bridge.js';
import { commandLine } from './quote.js';
import { answerSudo, SudoEnded, sudoPassword, sudoValidate, type SudoPassword } from './sudo.js';
import { sudoPasswordEnvs } from '../options.js';

/** Who we logged in as, then whether sudo would ask that user for a password (its -n answer). */
const identifyScript = [
  'id -un || exit 1',
  '[ "$(id -u)" -eq 0 ] && exit 0',
  'command -v sudo >/dev/null || exit 0',
  'sudo -n -v 2>&1 || true',
].join('\n');

/** The byte stream under the SSH connection and its keepalive timing, watched for stalls. */
export interface WatchedLink {
  link: Duplex;
  keepaliveMs: number;
  /** How long a silent host is waited for before the connection counts as lost. */
  deadAfterMs: number;
}

/** Why the connection ended, in the operator's words (ssh2's and the OS's words never reach the screen). */
function lossReason(error: Error & { code?: string; level?: string }, deadAfterSeconds: number): string {
  if (error.level === 'client-timeout') return `it answered nothing for ${deadAfterSeconds} s (network down, or the host stopped)`;
  const reasons: Record<string, string> = {
    ECONNRESET: 'the connection was reset (the host or something on the network dropped it)',
    EPIPE: 'the connection was cut while the wizard was sending',
    ETIMEDOUT: 'the network stopped carrying the connection (timed out)',
    EHOSTUNREACH: 'the host became unreachable',
    ENETUNREACH: 'the network became unreachable',
  };
  return (error.code && reasons[error.code]) || 'the connection broke';
}

/** The Unix socket a cluster listens on; its `.lock` file names the postmaster's PID. */
const socketOf = (cluster: ClusterAddress) => `${cluster.socketDir}/.s.PGSQL.${cluster.port}`;
/** Which cached session a statement runs in: the socket's shared one, or one of its own name. */
const sessionKey = (cluster: ClusterAddress) => (cluster.session ? `${socketOf(cluster)}#${cluster.session}` : socketOf(cluster));

/** Why a query's race ended: the server did not answer within the bound, or the run was interrupted. */
const noAnswer = Symbol('no answer');
const interruptedQuery = Symbol('interrupted');

/** A statement as a message quotes it: on one line, at most 70 characters. */
function shortStatement(text: string): string {
  const statement = text.replace(/\s+/g, ' ').trim();
  return statement.length > 70 ? `${statement.slice(0, 70)}…` : statement;
}

/** A command as a message names it: constant scripts and long arguments shortened. */
function shortCommand(argv: readonly string[]): string {
  return argv.slice(0, 8).map((arg) => (arg.length > 40 || arg.includes('\n') ? '…' : arg)).join(' ');
}

/** How often a host checks that the wizard itself ran (a late beat: it was held still). */
const suspensionBeatMs = 1000;

const closedByServer = 'the SSH server closed the connection (sshd stopped or restarted, or the session was ended on the host)';

/** A Host over one ssh2 connection; every command and SQL session is a channel on it. */
export class SshHost implements Host {
  private readonly pgClients = new Map<string, Promise<pg.Client>>();
  private readonly pgTurns = new WeakMap<pg.Client, Promise<unknown>>();
  /** Each session's relay channel, to drop a session whose server stopped answering. */
  private readonly pgChannels = new Map<string, ClientChannel>();
  /** Sessions dropped because a query on them went unanswered: why, for the queries queued behind it. */
  private readonly sessionsEndedBy = new WeakMap<pg.Client, Promise<WizardError>>();
  /** How long a query may go unanswered (the same bound as a silent host). */
  private readonly answerWithinMs: number;
  private readonly stallListeners = new Set<(line: string) => void>();
  /** Set once the connection is gone (and we did not close it): why, for every later failure. */
  private lost?: string;
  private readonly loss = new AbortController();
  private closing = false;
  /** The run's interruption (endCommandsOn): what runs on this host when it aborts is ended. */
  private interruption?: AbortSignal;
  loginUser = '';
  serverUser = 'postgres';
  /** The operator's sudo password for this host, known only when sudo asks for one; kept for this run only. */
  private sudo?: SudoPassword;
  /** sudo's answer when this user may not use it at all ("Sorry, user … may not run sudo on …"). */
  private noSudoRights?: string;
  /** The users sudo has run a command as in this run: a refusal for one of them later means its rule changed mid-run. */
  private readonly sudoRanAs = new Set<string>();

  constructor(
    readonly role: string,
    readonly label: string,
    readonly address: string,
    private readonly client: Client,
    watched?: WatchedLink,
  ) {
    this.answerWithinMs = watched?.deadAfterMs ?? 40_000;
    const deadAfterSeconds = Math.round(this.answerWithinMs / 1000);
    client.on('error', (error) => this.markLost(lossReason(error, deadAfterSeconds)));
    const ended = () => {
      if (!this.closing) this.markLost(closedByServer);
    };
    client.on('end', ended);
    client.on('close', ended);
    if (watched) this.watchStalls(watched);
  }

  /**
   * ssh2 pings every keepalive interval and the server answers at once, so bytes arrive at
   * least that often; a longer silence that ends is a stall the connection rode out.
   */
  private watchStalls({ link, keepaliveMs }: WatchedLink): void {
    let lastData = Date.now();
    // A wizard held still (Ctrl-Z, SIGSTOP) hears nothing either: on resume its timers run
    // before its sockets are read, so a beat that comes late restarts the silence from now.
    let lastBeat = lastData;
    const beat = setInterval(() => {
      const now = Date.now();
      if (now - lastBeat > 2 * suspensionBeatMs) lastData = now;
      lastBeat = now;
    }, suspensionBeatMs).unref();
    this.client.once('close', () => clearInterval(beat));
    link.on('data', () => {
      const now = Date.now();
      const silentMs = now - lastData;
      lastData = now;
      if (silentMs > keepaliveMs + 1000) {
        const line = `no answer from the ${this.role} ${this.label} for ${Math.round(silentMs / 1000)} s (network?); the connection held and the run went on`;
        this.stallListeners.forEach((listener) => listener(line));
      }
    });
  }

  private markLost(reason: string): void {
    if (this.lost !== undefined) return;
    this.lost = reason;
    this.loss.abort(this.connectionLost());
  }

  get lossSignal(): AbortSignal {
    return this.loss.signal;
  }

  endCommandsOn(signal: AbortSignal): void {
    // Every command running at once on every host listens for it (not a leak): no warning on stderr.
    setMaxListeners(0, signal);
    this.interruption = signal;
  }

  /** The run's interruption as this host says it, naming what it ended; any other abort's reason as it is. */
  private interrupted(reason: unknown, running: string): unknown {
    const ours = this.interruption?.aborted && reason === this.interruption.reason && reason instanceof WizardError && !(reason instanceof ConnectionLost);
    return ours ? new CommandInterrupted(reason, this.role, this.label, running) : reason;
  }

  watchConnection(listener: (line: string) => void): () => void {
    this.stallListeners.add(listener);
    return () => this.stallListeners.delete(listener);
  }

  private connectionLost(): ConnectionLost | undefined {
    return this.lost === undefined ? undefined : new ConnectionLost(this.role, this.label, this.lost);
  }

  /**
   * A channel closed without an exit status: the connection may be going down (a server
   * that ends the session closes its channels just before the connection). Waits up to a
   * second for the connection to close, then says whether it was lost.
   */
  private lossBehindClosedChannel(): Promise<ConnectionLost | undefined> {
    if (this.lost !== undefined || this.closing) return Promise.resolve(this.connectionLost());
    return new Promise((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        this.client.off('close', settle);
        resolve(this.connectionLost());
      };
      const timer = setTimeout(settle, 1000);
      this.client.once('close', settle);
    });
  }

  /**
   * Learns who we are, once, right after connecting. When sudo would ask this user for a
   * password, `askSudoPassword` gives it (the environment or the operator) and it is proven
   * at once with `sudo -v`, before anything changes; without one, sudo keeps running with -n
   * and a command that needs the password fails at once, naming the way to give it.
   */
  async identify(askSudoPassword?: (loginUser: string) => Promise<string | undefined>): Promise<void> {
    const [loginUser, ...sudoSays] = (await this.run(['sh', '-c', identifyScript])).split('\n');
    this.loginUser = loginUser.trim();
    this.noSudoRights = sudoSays.find((line) => /may not run sudo/.test(line))?.trim();
    if (!sudoSays.some((line) => /^sudo: a password is required/.test(line)) || !askSudoPassword) return;
    const password = await askSudoPassword(this.loginUser);
    if (password) await this.proveSudoPassword(password);
  }

  /** The environment variable that gives this host alone its sudo password. */
  private sudoEnv(): string {
    return this.role === 'standby' ? sudoPasswordEnvs.standby : sudoPasswordEnvs.primary;
  }

  /** The sudo password, when this command goes through a sudo that may ask for it. */
  private askingSudo(argv: readonly string[]): SudoPassword | undefined {
    return argv[0] === 'sudo' ? this.sudo : undefined;
  }

  private async proveSudoPassword(password: string): Promise<void> {
    const where = `${this.role} ${this.label}`;
    if (/[\r\n]/.test(password)) {
      throw new WizardError('the sudo password contains a line break, which sudo cannot read', where, 'give the password on one line');
    }
    const sudo = sudoPassword(password);
    try {
      await this.openExec(sudoValidate(sudo), () => undefined, sudo, false);
    } catch (error) {
      if (!(error instanceof SudoEnded)) throw error;
      const refused = /incorrect password attempt|no password was provided|Sorry, try again/.test(error.wrapperStderr);
      throw new WizardError(
        refused
          ? `sudo did not accept the password given for user ${this.loginUser}; nothing was changed`
          : `sudo -v failed for user ${this.loginUser}: ${error.wrapperStderr || `exit code ${error.code}`}; nothing was changed`,
        where,
        refused
          ? `give ${this.loginUser}'s own password (the one sudo asks for): type it again, or correct ${this.sudoEnv()} or ${sudoPasswordEnvs.both}`
          : `check what sudo allows ${this.loginUser} (sudo -l as that user)`,
      );
    }
    this.sudo = sudo;
  }

  async exec<As extends RunAs = 'login'>(argv: ArgvFor<As>, options: ExecOptions<As> = {}): Promise<ExecResult> {
    const as = options.as ?? 'login';
    const wrapper = privilegeWrapper(this.loginUser, as, options.user ?? this.serverUser, this.sudo);
    // The process group is the running user's, so that user ends it; root's commands are the
    // sudoers rules' exact programs, so theirs is made around sudo, which passes the end on.
    const aroundSudo = as === 'root' && wrapper[0] === 'sudo';
    const command = aroundSudo ? [...privileged.ownProcessGroup, ...wrapper, ...argv] : [...wrapper, ...privileged.ownProcessGroup, ...argv];
    const stops = [options.signal, options.outlivesInterruption ? undefined : this.interruption].filter((signal) => signal !== undefined);
    const stop = stops.length > 1 ? AbortSignal.any(stops) : stops[0];
    const endGroup = (pgid: string) =>
      as === 'postgres' ? this.exec(privileged.endProcessGroup(pgid), { as: 'postgres', user: options.user }) : this.exec(privileged.endProcessGroup.argv(pgid));
    const runsAs = this.userFor(as, options.user);
    let collected: Collected;
    try {
      collected = await this.openExec(
        command,
        (channel, firstStderr, beforeCommand) =>
          // Around sudo, the group's marker came before sudo asked for its password.
          collect(channel, options, (aroundSudo ? (privileged.processGroupMarker.exec(beforeCommand)?.[0] ?? '') : '') + firstStderr, () => this.lossBehindClosedChannel(), stop && { signal: stop, endGroup }),
        this.askingSudo(wrapper),
      );
    } catch (error) {
      if (!(error instanceof SudoEnded)) throw this.interrupted(error, `"${shortCommand(argv)}"`);
      // sudo refused before the command started: its messages are all there is to say.
      const refused = { code: error.code, stdout: '', stderr: '', wrapperStderr: error.wrapperStderr };
      if (this.sudoRanAs.has(runsAs)) throw await this.refusedMidRun(argv, runsAs, refused.wrapperStderr);
      return refused;
    }
    const { started, ...output } = collected;
    if (wrapper.length === 0) return output;
    // The wrapper's complaints (e.g. an unresolvable own host name) are not the command's output.
    const result = { ...output, ...splitWrapperStderr(output.stderr) };
    // Around sudo the marker comes first; there only sudo's own refusal says the command never ran.
    const ran = aroundSudo ? !sudoRefusal.test(result.wrapperStderr) : started;
    if (ran && wrapper[0] === 'sudo') this.sudoRanAs.add(runsAs);
    // sudo refuses what it ran earlier in this run: its rule was taken away. The command did
    // not run; said here, in sudo's words, rather than as the command's own failure.
    if (!ran && result.code !== 0 && this.sudoRanAs.has(runsAs)) throw await this.refusedMidRun(argv, runsAs, result.wrapperStderr);
    return result;
  }

  /**
   * sudo refused to run argv as `runsAs`, though it ran commands as that user earlier in this
   * run: said in sudo's words (`wrapperStderr`, and what `sudo -n -v` answers now, as identify
   * asks it: e.g. "Sorry, user … may not run sudo on …").
   */
  private async refusedMidRun(argv: readonly string[], runsAs: string, wrapperStderr = ''): Promise<SudoRefusedMidRun> {
    const answer = await this.exec(['sudo', '-n', '-v']).catch(() => undefined);
    const sudoNow =
      answer?.code === 0 ? 'nothing: it lets this user validate' : (`${answer?.stderr ?? ''}\n${answer?.stdout ?? ''}`.split('\n').find((line) => line.trim())?.trim() ?? 'nothing');
    return new SudoRefusedMidRun(
      `user ${this.loginUser} may not run commands as ${runsAs} any more (${wrapperStderr.trim().split('\n')[0] || 'sudo refused'}), though sudo ran them earlier in this run: ` +
        `its sudo rule was removed or changed meanwhile ("sudo -n -v" says now: ${sudoNow}); "${shortCommand(argv)}" did not run, so the ${this.role} is as this run left it before (see "Changed")`,
      `${this.role} ${this.label}`,
      `put ${this.loginUser}'s sudo rule back on the ${this.role} (e.g. "${this.loginUser} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/, or the rules "pgrepl-wizard inspect" prints), check it with "sudo -l" as ${this.loginUser}, then run the same command again: finished steps are detected and skipped`,
    );
  }

  async run<As extends RunAs = 'login'>(argv: ArgvFor<As>, options: ExecOptions<As> = {}): Promise<string> {
    const result = await this.exec(argv, options);
    if (result.code !== 0) throw this.commandError(argv, this.userFor(options.as ?? 'login', options.user), result);
    return result.stdout;
  }

  async readFile(path: string, as: RunAs = 'login'): Promise<string | null> {
    if (as === 'root') return this.readRootFile(path);
    const result = as === 'login' ? await this.exec(privileged.readFile.argv(path)) : await this.exec(privileged.readFile(path), { as });
    if (result.code === privileged.missingFileExitCode) return null;
    if (result.code !== 0) throw this.commandError(['cat', path], this.userFor(as), result);
    return result.stdout;
  }

  async writeFile(path: string, content: string, options: WriteFileOptions = {}): Promise<void> {
    const as = options.as ?? 'login';
    if (as === 'root') return this.writeRootFile(path, content, options);
    const args = [path, options.mode ?? '600', options.secretOwner ?? ''] as const;
    const result = as === 'login' ? await this.exec(privileged.writeFile.argv(...args), { stdin: content }) : await this.exec(privileged.writeFile(...args), { as, stdin: content });
    if (result.code !== 0) throw this.unwritable(path, result.stderr) ?? this.commandError(['write', path], this.userFor(as), result);
  }

  /** A replacement of `path` the system refused whoever asks (an immutable file, a read-only filesystem), in the operator's words. */
  private unwritable(path: string, stderr: string): WizardError | undefined {
    const where = `${this.role} ${this.label}`;
    if (/Read-only file system/.test(stderr)) {
      return new WizardError(`cannot replace ${path}: its filesystem is mounted read-only; the file is unchanged`, where, 'remount that filesystem read-write, then run the same command again');
    }
    if (!/mv: cannot move .*: Operation not permitted/.test(stderr)) return undefined;
    return new WizardError(
      `cannot replace ${path}: the system refused it even to its owner ("Operation not permitted"), so the file is probably immutable (chattr +i) or append-only; the file is unchanged`,
      where,
      `check with lsattr ${path}: whoever set "i" or "a" may want it so; if the change is welcome, chattr -i ${path} (as root), then run the same command again`,
    );
  }

  /** Root reads with cat alone: no root shell. */
  private async readRootFile(path: string): Promise<string | null> {
    const result = await this.exec(privileged.catFile(path), { as: 'root' });
    if (result.code !== 0 && /No such file or directory/.test(result.stderr)) return null;
    if (result.code !== 0) throw this.commandError(['cat', path], 'root', result);
    return result.stdout;
  }

  /** Root writes with plain programs (mktemp, tee, chmod/chown --reference, mv), never a root shell; the temp file is removed on failure. */
  private async writeRootFile(path: string, content: string, options: WriteFileOptions): Promise<void> {
    const as = 'root';
    const tmp = (await this.run(privileged.makeTempFile(`${path}.pgrepl-tmp.XXXXXX`), { as })).trim();
    try {
      await this.run(privileged.teeFile(tmp), { as, stdin: content });
      if (options.secretOwner) await this.run(privileged.giveToServerUser(options.secretOwner, tmp), { as });
      else if ((await this.exec(privileged.catFile(path), { as })).code === 0) {
        await this.run(privileged.copyModeAndOwner(path, tmp, 'chmod'), { as });
        await this.run(privileged.copyModeAndOwner(path, tmp, 'chown'), { as });
      }
      await this.run(privileged.replaceFile(tmp, path), { as });
    } catch (error) {
      await this.exec(privileged.removeTree([tmp]), { as });
      throw (error instanceof WizardError && this.unwritable(path, error.message)) || error;
    }
  }

  async sql<Row extends SqlRow = SqlRow>(cluster: ClusterAddress, text: string, params: unknown[] = []): Promise<Row[]> {
    // A server that hangs (its processes stopped, a lock never released) must not hang the run:
    // the session and the query get the bound a silent host gets.
    let stopWaiting: (() => void) | undefined;
    let interrupt: (() => void) | undefined;
    const interruption = this.interruption?.aborted ? undefined : this.interruption;
    const unanswered = new Promise<never>((_, reject) => {
      stopWaiting = awakeTimeout(this.answerWithinMs, () => reject(noAnswer));
      interrupt = () => reject(interruptedQuery);
      interruption?.addEventListener('abort', interrupt, { once: true });
    });
    let client: pg.Client | undefined;
    try {
      const session = (client = await Promise.race([this.pgClient(cluster), unanswered]));
      // One query at a time per session (steps ask several things at once): queued here rather
      // than by pg's own queueing, which it deprecates.
      const turn = (this.pgTurns.get(session) ?? Promise.resolve()).catch(() => undefined).then(() => session.query(text, params));
      this.pgTurns.set(session, turn);
      const result = await Promise.race([turn, unanswered]);
      return result.rows as Row[];
    } catch (error) {
      if (error === noAnswer) {
        const why = this.unanswered(cluster, text, (client as { processID?: number } | undefined)?.processID);
        if (client) this.sessionsEndedBy.set(client, why);
        throw await why;
      }
      if (error === interruptedQuery) {
        this.dropSession(sessionKey(cluster));
        throw this.interrupted(interruption!.reason, `the query "${shortStatement(text)}"`);
      }
      if (error instanceof WizardError) throw error;
      // A query queued behind one that went unanswered fails when that one's session is dropped: the same cause.
      const ended = client && this.sessionsEndedBy.get(client);
      if (ended) throw await ended;
      // PostgreSQL's own errors carry a SQLSTATE; anything else is the session's transport.
      const lost = typeof (error as { code?: unknown }).code === 'string' ? undefined : await this.lossBehindClosedChannel();
      if (lost) throw lost;
      const message = error instanceof Error ? error.message : String(error);
      throw new WizardError(
        `PostgreSQL on port ${cluster.port} answered: ${message}`,
        `${this.role} ${this.label}`,
        `see the server log of that cluster; the query was run as the OS user ${this.serverUser}`,
      );
    } finally {
      stopWaiting?.();
      if (interrupt) interruption?.removeEventListener('abort', interrupt);
    }
  }

  /** Drops a session whose server stopped answering (or whose query was interrupted): its relay channel closes. */
  private dropSession(key: string): void {
    this.pgClients.delete(key);
    this.pgChannels.get(key)?.close();
    this.pgChannels.delete(key);
  }

  /**
   * The server took longer than the bound to answer `text`: its session is dropped, and the
   * error says what was waited for and what the host shows of the server's processes (its
   * postmaster, from the socket's lock file, and this session's backend).
   */
  private async unanswered(cluster: ClusterAddress, text: string, backendPid?: number): Promise<WizardError> {
    const socket = socketOf(cluster);
    this.dropSession(sessionKey(cluster));
    const postmasterPid = (await this.readFile(`${socket}.lock`, 'postgres').catch(() => null))?.split('\n')[0].trim();
    const pids = [postmasterPid, backendPid].filter((pid) => pid && /^\d+$/.test(String(pid))).map(String);
    const states = new Map(
      pids.length === 0
        ? []
        : (await this.exec(['ps', '-o', 'pid=,stat=', '-p', pids.join(',')])).stdout
            .trim()
            .split('\n')
            .map((line) => line.trim().split(/\s+/) as [string, string]),
    );
    const described = (what: string, pid: string | undefined) => {
      const stat = pid && states.get(pid);
      if (!stat) return undefined;
      if (stat.startsWith('T')) return `${what} (pid ${pid}) is stopped (state ${stat}: it was sent SIGSTOP, or a debugger holds it)`;
      if (stat.startsWith('D')) return `${what} (pid ${pid}) is waiting on its disk (state ${stat})`;
      return `${what} (pid ${pid}) is running (state ${stat})`;
    };
    const seen = [described('its postmaster', postmasterPid), described("this session's backend", backendPid === undefined ? undefined : String(backendPid))].filter(Boolean);
    const stopped = [...states.values()].some((stat) => stat.startsWith('T'));
    return new WizardError(
      `PostgreSQL on port ${cluster.port} answered nothing for ${Math.round(this.answerWithinMs / 1000)} s to "${shortStatement(text)}"; ` +
        (seen.length > 0 ? `${seen.join(', and ')}` : `no postmaster was found from ${socket}.lock`) +
        (stopped ? '' : ': a lock held by another session, or a server too busy to answer'),
      `${this.role} ${this.label}`,
      stopped
        ? `resume that server's processes (kill -CONT ${postmasterPid ?? '<pid>'} and its children) or restart it, then run the same command again: finished steps are detected and skipped`
        : 'see what that server waits for (pg_stat_activity, pg_locks, its log), then run the same command again: finished steps are detected and skipped',
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    this.sudo = undefined;
    const clients = [...this.pgClients.values()];
    this.pgClients.clear();
    await Promise.all(clients.map((pending) => pending.then((c) => c.end()).catch(() => undefined)));
    this.client.end();
  }

  private pgClient(cluster: ClusterAddress): Promise<pg.Client> {
    const key = sessionKey(cluster);
    let pending = this.pgClients.get(key);
    if (!pending) {
      const opening = this.openPg(socketOf(cluster), key);
      this.pgClients.set(key, opening);
      opening.catch(() => this.forgetSession(key, opening));
      pending = opening;
    }
    return pending;
  }

  /** Drops a broken session, unless a newer one took its place already. */
  private forgetSession(key: string, session: Promise<pg.Client>): void {
    if (this.pgClients.get(key) !== session) return;
    this.pgClients.delete(key);
    this.pgChannels.delete(key);
  }

  private async openPg(socket: string, key: string): Promise<pg.Client> {
    let stderr = '';
    const user = this.serverUser;
    const relay = [...privilegeWrapper(this.loginUser, 'postgres', user, this.sudo), ...privileged.socketRelay(socket)];
    const channel = await this.openExec(
      relay,
      (opened, firstStderr) => {
        stderr = firstStderr;
        opened.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        return opened;
      },
      this.askingSudo(relay),
    ).catch((error: unknown) => {
      if (error instanceof SudoEnded) throw this.commandError(['perl', '-e', 'relay'], user, { code: error.code, stdout: '', stderr: '', wrapperStderr: error.wrapperStderr });
      throw error;
    });
    this.pgChannels.set(key, channel);
    try {
      const client = await connectPg(channel, user);
      // A dropped relay must not crash the process; the next query reports it.
      client.on('error', () => {
        if (this.pgChannels.get(key) !== channel) return;
        this.pgClients.delete(key);
        this.pgChannels.delete(key);
      });
      return client;
    } catch (error) {
      const lost = this.connectionLost();
      if (lost) throw lost;
      if (error instanceof PasswordDemanded) {
        throw new WizardError(
          `PostgreSQL asks the OS user ${user} for a password on ${socket}: the wizard connects as role ${user} with peer authentication and has no password to give`,
          `${this.role} ${this.label}`,
          `allow peer (or trust) for ${user} on the Unix socket: put "local all ${user} peer" above the other "local" lines of that server's pg_hba.conf and reload it (pg_ctl reload -D <data directory>)`,
        );
      }
      const reason = stderr.trim() || (error instanceof Error ? error.message : String(error));
      throw new WizardError(
        `cannot open a PostgreSQL session on ${socket}: ${reason}`,
        `${this.role} ${this.label}`,
        'check that the cluster is running (pg_lsclusters / pg_ctl status) and that its socket directory and port are right',
      );
    }
  }

  /**
   * `onOpen` runs inside ssh2's callback: a fast command's exit status can arrive in the same
   * packet batch as the channel confirmation, and an 'exit' listener attached one promise
   * tick later would miss it. Through a sudo that may ask for the password, it runs the
   * moment the command starts, with the command's first stderr and what came before sudo's
   * (prompts and all); sudo ending before that rejects with SudoEnded.
   */
  private openExec<T>(
    argv: readonly string[],
    onOpen: (channel: ClientChannel, firstStderr: string, beforeCommand: string) => T,
    sudo?: SudoPassword,
    commandFollows = true,
  ): Promise<Awaited<T>> {
    const command = commandLine(['env', 'LC_ALL=C', ...argv]);
    return new Promise((resolve, reject) => {
      const lost = this.connectionLost();
      if (lost) return reject(lost);
      const opened = (error: Error | undefined, channel: ClientChannel) => {
        if (error) {
          reject(
            this.connectionLost() ??
            new WizardError(
              `SSH refused to run a command: ${error.message}`,
              `${this.role} ${this.label}`,
              'the SSH connection was lost or the server limits sessions (MaxSessions); run again',
            ),
          );
        } else if (!sudo) resolve(onOpen(channel, '', '') as Awaited<T>);
        else {
          answerSudo(
            channel,
            sudo,
            (firstStderr, beforeCommand) => resolve(onOpen(channel, firstStderr, beforeCommand) as Awaited<T>),
            (ended) => (commandFollows || ended.code !== 0 ? reject(ended) : resolve(undefined as Awaited<T>)),
            commandFollows,
          );
        }
      };
      try {
        this.client.exec(command, opened);
      } catch {
        // ssh2 throws when its socket is gone before it noticed why.
        reject(this.connectionLost() ?? new ConnectionLost(this.role, this.label, 'the connection is closed'));
      }
    });
  }

  /** The OS user a command runs as: root, the server's user (or the one named for this call), or the login user. */
  private userFor(as: RunAs, user?: string): string {
    return as === 'root' ? 'root' : as === 'postgres' ? (user ?? this.serverUser) : this.loginUser;
  }

  /** Why argv, run as `runsAs`, failed: sudo's refusal in the operator's words, else the command's own. */
  private commandError(argv: readonly string[], runsAs: string, result: ExecResult): WizardError {
    const wrapperStderr = result.wrapperStderr?.trim() ?? '';
    // When the wrapper itself failed, its message is the only reason there is.
    const stderr = result.stderr.trim() || wrapperStderr;
    const shown = argv.slice(0, 3).join(' ');
    if (/sudo: (a password is required|a terminal is required)/.test(wrapperStderr) && this.noSudoRights) {
      return new WizardError(
        `user ${this.loginUser} may not run commands as ${runsAs}: ${this.noSudoRights}`,
        `${this.role} ${this.label}`,
        `log in as root or ${this.serverUser}, or give ${this.loginUser} sudo rights`,
      );
    }
    if (/sudo: (a password is required|a terminal is required)/.test(wrapperStderr)) {
      return new WizardError(
        `user ${this.loginUser} may not run commands as ${runsAs} without a password (sudo -n refused)`,
        `${this.role} ${this.label}`,
        `give ${this.loginUser}'s sudo password: run in a terminal (it is asked once), or set ${sudoPasswordEnvs.both} (${this.sudoEnv()} for this host alone); or log in as root, or add a NOPASSWD sudo rule for ${this.loginUser} (e.g. "${this.loginUser} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/)`,
      );
    }
    const refusal = /is not in the sudoers file|not allowed to execute|sudo: command not found/;
    if (refusal.test(wrapperStderr) || refusal.test(stderr)) {
      return new WizardError(
        `user ${this.loginUser} has no sudo rights (${(refusal.test(wrapperStderr) ? wrapperStderr : stderr).split('\n')[0]})`,
        `${this.role} ${this.label}`,
        `log in as root or ${this.serverUser}, or give ${this.loginUser} sudo rights`,
      );
    }
    return new WizardError(
      `"${shown}" failed with exit code ${result.code}${stderr ? `: ${stderr}` : ''}`,
      `${this.role} ${this.label}`,
      'read the command output above; nothing after this command was run',
    );
  }
}

/** What sudo (or a refused `sudo -n`) says when it does not run the command. */
const sudoRefusal = /sudo: (a password is required|a terminal is required)|is not in the sudoers file|not allowed to execute|may not run sudo/;

/** A command's result, and whether it started at all (its process group's marker came: the privilege wrapper let it run). */
type Collected = ExecResult & { started: boolean };

/** How a running command is stopped: when `signal` aborts, its process group is ended on the host. */
interface Stop {
  signal: AbortSignal;
  endGroup: (pgid: string) => Promise<unknown>;
}

/**
 * A command's output and exit code; a channel closed by a lost connection rejects with `lost()`'s
 * error. The command's process group marker (commands.ts ownProcessGroup) is taken out of its
 * stderr; when `stop` aborts, that group is ended, then the channel closed, and it rejects with
 * the abort's reason (a command blocked on a hung server writes nothing, so closing its
 * channel alone would not end it).
 */
function collect(channel: ClientChannel, options: ExecOptions, firstStderr: string, lost: () => Promise<ConnectionLost | undefined>, stop?: Stop): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    let stderr = '';
    let pgid: string | undefined;
    // Until the marker arrives, stderr is held (a wrapper's lines may come before it).
    let beforeMarker: string | undefined = '';
    const addStderr = (chunk: string) => {
      let text = chunk;
      if (beforeMarker !== undefined) {
        beforeMarker += chunk;
        const marker = privileged.processGroupMarker.exec(beforeMarker);
        if (!marker) return;
        pgid = marker[1];
        text = beforeMarker.slice(0, marker.index) + beforeMarker.slice(marker.index + marker[0].length);
        beforeMarker = undefined;
      }
      stderr += text;
      if (text) options.onStderr?.(text);
    };
    addStderr(firstStderr);
    let code: number | null = null;
    let stopping = false;
    const stopNow = () => {
      stopping = true;
      const ended = pgid ? stop!.endGroup(pgid).catch(() => undefined) : Promise.resolve();
      void ended.then(() => {
        channel.close();
        reject(stop!.signal.reason ?? new Error('aborted'));
      });
    };
    stop?.signal.addEventListener('abort', stopNow, { once: true });
    if (options.stream) channel.pipe(options.stream);
    else channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => addStderr(chunk.toString()));
    channel.on('exit', (exitCode: number | null, signal?: string) => {
      code = exitCode ?? (signal ? 128 : 255);
    });
    channel.on('error', (error: Error) => lost().then((connectionLost) => reject(connectionLost ?? error)));
    channel.on('close', () => {
      stop?.signal.removeEventListener('abort', stopNow);
      // A stopped command rejects once its group is ended.
      if (stopping) return;
      if (beforeMarker) {
        // The command never started (its wrapper refused): what came is the wrapper's.
        stderr += beforeMarker;
        beforeMarker = undefined;
      }
      const result = { code: code ?? 255, stdout: Buffer.concat(stdout).toString(), stderr, started: pgid !== undefined };
      if (code !== null) resolve(result);
      else lost().then((connectionLost) => (connectionLost ? reject(connectionLost) : resolve(result)));
    });
    if (options.stream) options.stream.pipe(channel);
    else channel.end(options.stdin ?? undefined);
  });
}
