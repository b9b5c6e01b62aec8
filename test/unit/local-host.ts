import { spawnSync } from 'node:child_process';
import { WizardError } from '../../src/errors.js';
import type { ClusterAddress, ExecOptions, ExecResult, Host, RunAs, SqlRow, WriteFileOptions } from '../../src/remote/host.js';
import { missingFileExitCode, readFileScript, writeFileScript } from '../../src/remote/commands.js';

/** This machine as a host: argv and the remote file scripts run here, through a real sh. */
export class LocalHost implements Host {
  readonly role = 'standby';
  readonly label = 'local';
  readonly address = '127.0.0.1';
  readonly loginUser = 'root';
  serverUser = 'root';

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const result = spawnSync(argv[0], argv.slice(1), { input: options.stdin, encoding: 'utf8' });
    return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
  }

  async run(argv: readonly string[], options?: ExecOptions): Promise<string> {
    const result = await this.exec(argv, options);
    if (result.code !== 0) throw new WizardError(`${argv.join(' ')} failed: ${result.stderr}`, this.label, 'local');
    return result.stdout;
  }

  async readFile(path: string, _as?: RunAs): Promise<string | null> {
    const result = await this.exec(['sh', '-c', readFileScript, 'sh', path]);
    return result.code === missingFileExitCode ? null : result.stdout;
  }

  async writeFile(path: string, content: string, options: WriteFileOptions = {}): Promise<void> {
    await this.run(['sh', '-c', writeFileScript, 'sh', path, options.mode ?? '600', options.secretOwner ?? ''], { stdin: content });
  }

  async sql<Row extends SqlRow = SqlRow>(_cluster: ClusterAddress, _text: string): Promise<Row[]> {
    throw new Error('LocalHost has no PostgreSQL');
  }

  async close(): Promise<void> {}
}
