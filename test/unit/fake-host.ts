import type { ClusterAddress, ExecOptions, ExecResult, Host, RunAs, SqlRow } from '../../src/remote/host.js';
import { WizardError } from '../../src/errors.js';

/** A host that answers commands from a script: the first rule whose test matches argv answers. */
export class FakeHost implements Host {
  readonly role = 'standby';
  readonly label = 'admin@fake';
  readonly address = 'db.example.invalid';
  readonly loginUser = 'admin';
  serverUser = 'postgres';
  readonly commands: string[][] = [];

  constructor(private readonly rules: [test: (argv: readonly string[]) => boolean, answer: Partial<ExecResult>][]) {}

  async exec(argv: readonly string[], _options?: ExecOptions): Promise<ExecResult> {
    this.commands.push([...argv]);
    const answer = this.rules.find(([test]) => test(argv))?.[1] ?? { code: 127, stderr: `${argv[0]}: not found` };
    return { code: 0, stdout: '', stderr: '', ...answer };
  }

  async run(argv: readonly string[], options?: ExecOptions): Promise<string> {
    const result = await this.exec(argv, options);
    if (result.code !== 0) throw new WizardError(`${argv[0]} failed`, this.label, 'fake');
    return result.stdout;
  }

  async readFile(_path: string, _as?: RunAs): Promise<string | null> {
    return null;
  }

  async writeFile(): Promise<void> {
    throw new Error('FakeHost does not write files');
  }

  async sql<Row extends SqlRow = SqlRow>(_cluster: ClusterAddress, _text: string): Promise<Row[]> {
    throw new Error('FakeHost has no PostgreSQL');
  }

  async close(): Promise<void> {}
}
