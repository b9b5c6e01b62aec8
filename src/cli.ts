import { readFileSync } from 'node:fs';
import { formatError, UsageError, WizardError } from './errors.js';
import { helpText, parseOptions, type Options } from './options.js';
import { startTimings, timed, timingsText } from './timings.js';

const packageVersion = (): string =>
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** The one entry point: returns the exit code; bin/ sets it, nothing calls process.exit. */
export async function main(argv: string[]): Promise<number> {
  const entered = performance.now();
  try {
    return await runCommand(argv, entered);
  } finally {
    const timings = timingsText();
    if (timings) console.error(timings);
  }
}

async function runCommand(argv: string[], entered: number): Promise<number> {
  let options: Options | undefined;
  try {
    options = await parseOptions(argv);
    if (options.timings) startTimings(entered);
    if (options.help) {
      console.log(helpText());
      return 0;
    }
    if (options.version) {
      console.log(packageVersion());
      return 0;
    }
    switch (options.command) {
      // Commands load on demand: a broken or slow module of one never affects another.
      case 'inspect':
        return await (await import('./commands/inspect.js')).inspectCommand(options);
      case 'setup':
        return await (await timed('load the setup command', () => import('./commands/setup.js'))).setupCommand(options);
      case 'doctor':
        return await (await import('./commands/doctor.js')).doctorCommand(options);
      case 'status':
        return await (await import('./commands/status.js')).statusCommand(options);
      case 'remove':
        return await (await import('./commands/remove.js')).removeCommand(options);
      case 'sync':
        return await (await import('./commands/sync.js')).syncCommand(options);
      case 'handoff':
        return await (await import('./commands/handoff.js')).handoffCommand(options);
      case 'wizard':
        return await wizardCommand(options);
    }
  } catch (error) {
    return reportFailure(error, options?.json ?? argv.includes('--json'));
  }
}

function reportFailure(error: unknown, json: boolean): number {
  if (json) {
    const detail = error instanceof WizardError ? { where: error.where, fix: error.fix } : {};
    console.log(JSON.stringify({ ok: false, error: { message: (error as Error).message ?? String(error), ...detail } }, null, 2));
  }
  console.error(formatError(error));
  return error instanceof WizardError ? error.exitCode : 1;
}

async function wizardCommand(options: Options): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError('the interactive wizard needs a terminal', 'run it in a terminal, or use a headless command such as "pgrepl-wizard inspect --json"');
  }
  // A terminal on both ends means a person is there, whatever CI says: is-in-ci, read when
  // ink loads, would make Ink draw only its final frame and hide every question.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  // ink and react load only on the interactive path.
  const { runApp } = await import('./ui/run-app.js');
  return runApp(options);
}
