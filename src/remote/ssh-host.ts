import type { Client, ClientChannel } from 'ssh2';
import type pg from 'pg';
import { WizardError } from '../errors.js';
import { type ArgvFor, type ClusterAddress, type ExecOptions, type ExecResult, type Host, type RunAs, type SqlRow, type WriteFileOptions, privilegeWrapper, splitWrapperStderr } from './host.js';
import * as privileged from './commands.js';
import { PasswordDemanded, connectPg } from './pg-bridge.js';
import { commandLine } from './quote.js';

/** A Host over one ssh2 connection; every command and SQL session is a channel on it. */
export class SshHost implements Host {
  private readonly pgClients = new Map<string, Promise<pg.Client>>();
  private readonly pgTurns = new WeakMap<pg.Client, Promise<unknown>>();
  loginUser = '';
  serverUser = 'postgres';

  constructor(
    readonly role: string,
    readonly label: string,
    readonly address: string,
    private readonly client: Client,
  ) {}

  /** Learns who we are and proves we can become postgres, once, right after connecting. */
  async identify(): Promise<void> {
    this.loginUser = (await this.run(['id', '-un'])).trim();
  }

  async exec<As extends RunAs = 'login'>(argv: ArgvFor<As>, options: ExecOptions<As> = {}): Promise<ExecResult> {
    const wrapper = privilegeWrapper(this.loginUser, options.as ?? 'login', options.user ?? this.serverUser);
    const result = await this.openExec([...wrapper, ...argv], (channel) => collect(channel, options));
    // The wrapper's complaints (e.g. an unresolvable own host name) are not the command's output.
    return wrapper.length === 0 ? result : { ...result, ...splitWrapperStderr(result.stderr) };
  }

  async run<As extends RunAs = 'login'>(argv: ArgvFor<As>, options: ExecOptions<As> = {}): Promise<string> {
    const result = await this.exec(argv, options);
    if (result.code !== 0) throw this.commandError(argv, options.as ?? 'login', result);
    return result.stdout;
  }

  async readFile(path: string, as: RunAs = 'login'): Promise<string | null> {
    if (as === 'root') return this.readRootFile(path);
    const result = as === 'login' ? await this.exec(privileged.readFile.argv(path)) : await this.exec(privileged.readFile(path), { as });
    if (result.code === privileged.missingFileExitCode) return null;
    if (result.code !== 0) throw this.commandError(['cat', path], as, result);
    return result.stdout;
  }

  async writeFile(path: string, content: string, options: WriteFileOptions = {}): Promise<void> {
    const as = options.as ?? 'login';
    if (as === 'root') return this.writeRootFile(path, content, options);
    const args = [path, options.mode ?? '600', options.secretOwner ?? ''] as const;
    const result = as === 'login' ? await this.exec(privileged.writeFile.argv(...args), { stdin: content }) : await this.exec(privileged.writeFile(...args), { as, stdin: content });
    if (result.code !== 0) throw this.commandError(['write', path], as, result);
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
      throw error;
    }
  }

  async sql<Row extends SqlRow = SqlRow>(cluster: ClusterAddress, text: string, params: unknown[] = []): Promise<Row[]> {
    const client = await this.pgClient(cluster);
    // One query at a time per session (steps ask several things at once): queued here rather
    // than by pg's own queueing, which it deprecates.
    const turn = (this.pgTurns.get(client) ?? Promise.resolve()).catch(() => undefined).then(() => client.query(text, params));
    this.pgTurns.set(client, turn);
    try {
      const result = await turn;
      return result.rows as Row[];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new WizardError(
        `PostgreSQL on port ${cluster.port} answered: ${message}`,
        `${this.role} ${this.label}`,
        `see the server log of that cluster; the query was run as the OS user ${this.serverUser}`,
      );
    }
  }

  async close(): Promise<void> {
    const clients = [...this.pgClients.values()];
    this.pgClients.clear();
    await Promise.all(clients.map((pending) => pending.then((c) => c.end()).catch(() => undefined)));
    this.client.end();
  }

  private pgClient(cluster: ClusterAddress): Promise<pg.Client> {
    const socket = `${cluster.socketDir}/.s.PGSQL.${cluster.port}`;
    let pending = this.pgClients.get(socket);
    if (!pending) {
      pending = this.openPg(socket);
      this.pgClients.set(socket, pending);
      pending.catch(() => this.pgClients.delete(socket));
    }
    return pending;
  }

  private async openPg(socket: string): Promise<pg.Client> {
    let stderr = '';
    const user = this.serverUser;
    const channel = await this.openExec([...privilegeWrapper(this.loginUser, 'postgres', user), ...privileged.socketRelay(socket)], (opened) => {
      opened.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      return opened;
    });
    try {
      const client = await connectPg(channel, user);
      // A dropped relay must not crash the process; the next query reports it.
      client.on('error', () => this.pgClients.delete(socket));
      return client;
    } catch (error) {
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
   * tick later would miss it.
   */
  private openExec<T>(argv: readonly string[], onOpen: (channel: ClientChannel) => T): Promise<Awaited<T>> {
    const command = commandLine(['env', 'LC_ALL=C', ...argv]);
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) {
          reject(
            new WizardError(
              `SSH refused to run a command: ${error.message}`,
              `${this.role} ${this.label}`,
              'the SSH connection was lost or the server limits sessions (MaxSessions); run again',
            ),
          );
        } else resolve(onOpen(channel) as Awaited<T>);
      });
    });
  }

  private commandError(argv: readonly string[], as: RunAs, result: ExecResult): WizardError {
    const wrapperStderr = result.wrapperStderr?.trim() ?? '';
    // When the wrapper itself failed, its message is the only reason there is.
    const stderr = result.stderr.trim() || wrapperStderr;
    const shown = argv.slice(0, 3).join(' ');
    if (/sudo: (a password is required|a terminal is required)/.test(wrapperStderr)) {
      return new WizardError(
        `user ${this.loginUser} may not run commands as ${as === 'root' ? 'root' : this.serverUser} without a password (sudo -n refused)`,
        `${this.role} ${this.label}`,
        `log in as root, or add a NOPASSWD sudo rule for ${this.loginUser} (e.g. "${this.loginUser} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/)`,
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

function collect(channel: ClientChannel, options: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    let stderr = '';
    let code: number | null = null;
    const abort = () => channel.close();
    options.signal?.addEventListener('abort', abort, { once: true });
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      options.onStderr?.(text);
    });
    channel.on('exit', (exitCode: number | null, signal?: string) => {
      code = exitCode ?? (signal ? 128 : 255);
    });
    channel.on('error', reject);
    channel.on('close', () => {
      options.signal?.removeEventListener('abort', abort);
      if (options.signal?.aborted) {
        reject(options.signal.reason ?? new Error('aborted'));
        return;
      }
      resolve({ code: code ?? 255, stdout: Buffer.concat(stdout).toString(), stderr });
    });
    channel.end(options.stdin ?? undefined);
  });
}
