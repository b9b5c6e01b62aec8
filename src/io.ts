import { createInterface } from 'node:readline/promises';
import { UsageError, WizardError } from './errors.js';
import type { HostKeyDecision, UnknownHostKey } from './remote/connect.js';
import type { StepResult } from '../steps/contract.js';

/**
 * How the core asks questions. The Ink app answers them on screen; headless commands answer
 * from a terminal prompt, or, with no terminal, fail with the flag that would have answered.
 */
export interface Choice<T> {
  /** One line: what the entry is. */
  label: string;
  value: T;
  /** What choosing it gives: below the menu while the cursor is on the entry (the app), under each entry (a plain terminal). */
  detail?: string;
}

/** A whole plan, built without changing anything, to approve before it runs. */
export interface PlanReview {
  /** Setup's plan (long: read one line per step) or doctor's repairs (short: read whole). */
  kind: 'setup' | 'repairs';
  heading: string[];
  steps: StepResult[];
  footer: string[];
}

/** The question a plan review ends with, the same in the app and on a plain terminal. */
export const reviewQuestion = (review: PlanReview) => (review.kind === 'setup' ? 'Run this plan?' : 'Run these repairs?');

export interface Io {
  readonly interactive: boolean;
  confirmHostKey(key: UnknownHostKey): Promise<HostKeyDecision>;
  /** `flag` names the option that answers this question without a prompt. */
  choose<T>(question: string, choices: Choice<T>[], flag: string): Promise<T>;
  /** A masked answer (a password); empty means "generate one". */
  askSecret(question: string, envName: string): Promise<string>;
  /**
   * An explicit yes. With `typed`, the operator must type that word (the standby's host name)
   * before anything destructive happens.
   */
  confirm(question: string, flag: string, typed?: string): Promise<boolean>;
  /** Go or not, for a plan the operator has in front of them. */
  reviewPlan(review: PlanReview): Promise<boolean>;
}

/**
 * A typed confirmation (the host name before its data is replaced): the exact name goes ahead,
 * an empty answer stops; anything else is a typo, asked again with this reason, the same in the
 * app and on a plain terminal.
 */
export const typedConfirmationProblem = (answer: string, typed: string) =>
  answer === '' || answer === typed ? undefined : `"${answer}" is not ${typed}: type it exactly to go ahead, or leave it empty and press Enter to stop here`;

/** Prompts one at a time on stderr, so stdout stays clean for --json; none without a TTY. */
export function terminalIo(input = process.stdin, output = process.stderr): Io {
  const interactive = Boolean(input.isTTY);
  let queue: Promise<unknown> = Promise.resolve();
  const ask = async (question: string, masked = false): Promise<string> => {
    const turn = queue.then(async () => {
      if (masked) return readSecret(input, output, question);
      const rl = createInterface({ input, output, terminal: true });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    });
    queue = turn.catch(() => undefined);
    return turn;
  };
  return {
    interactive,
    async confirmHostKey(key) {
      if (!interactive) return 'reject';
      const answer = await ask(
        `The ${key.role} host ${key.host} port ${key.port} is not in known_hosts.\n` +
          `  ${key.keyType} key fingerprint is ${key.fingerprint}\n` +
          'Trust it and save it to known_hosts? [yes = save / once = this run only / no] ',
      );
      const normalized = answer.trim().toLowerCase();
      if (normalized === 'yes' || normalized === 'y') return 'trust-and-save';
      if (normalized === 'once') return 'trust-once';
      return 'reject';
    },
    async choose(question, choices, flag) {
      if (!interactive) {
        throw new UsageError(`${question} (no terminal to ask in)`, `pass ${flag} with one of: ${choices.map((c) => c.label).join(', ')}`);
      }
      const menu = choices.map((c, i) => `  ${i + 1}) ${c.label}${c.detail ? `\n       ${c.detail}` : ''}`).join('\n');
      for (;;) {
        const answer = Number((await ask(`${question}\n${menu}\nNumber: `)).trim());
        if (Number.isInteger(answer) && answer >= 1 && answer <= choices.length) return choices[answer - 1].value;
      }
    },
    async askSecret(question, envName) {
      if (!interactive) throw new UsageError(`${question} (no terminal to ask in)`, `set ${envName} in the environment`);
      return ask(`${question} `, true);
    },
    async confirm(question, flag, typed) {
      if (!interactive) throw new UsageError(`${question} (no terminal to ask in)`, `pass ${flag} to confirm it`);
      if (!typed) return /^y(es)?$/i.test((await ask(`${question} [y/N] `)).trim());
      let prompt = `${question}\nType ${typed} to confirm: `;
      for (;;) {
        const answer = (await ask(prompt)).trim();
        const problem = typedConfirmationProblem(answer, typed);
        if (!problem) return answer === typed;
        prompt = `${problem}\nType ${typed} to confirm: `;
      }
    },
    // The headless reporter has printed the plan already: only the question is left.
    reviewPlan(review) {
      return this.confirm(reviewQuestion(review), '--yes');
    },
  };
}

/**
 * One line from the terminal in raw mode, echoing nothing (as sudo and ssh do), so a secret
 * never reaches the screen. Backspace and Ctrl-U edit; Ctrl-C stops the run.
 */
function readSecret(input: NodeJS.ReadStream, output: NodeJS.WriteStream, question: string): Promise<string> {
  output.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\x03') return finish(new WizardError('stopped by the operator', 'password prompt', 'run the command again', 130));
        if (char === '\x7f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else if (char === '\x15') typed = '';
        else if (char >= ' ') typed += char;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
