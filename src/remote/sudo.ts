import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';

/**
 * sudo with a password. The password travels on the command's stdin (`sudo -S`), never in
 * argv, and only after sudo's own prompt asked for it: the prompt is a marker unique to this
 * run (`-p`), and `-k` makes sudo ignore a cached timestamp, so a sudo that asks always asks
 * right now. A command sudo runs without asking (a NOPASSWD rule) never sees the password:
 * before the command starts, `sh` (as the target user) prints a second marker, and only after
 * it does the command's own stdin (SQL, file contents) begin to flow.
 */
export interface SudoPassword {
  readonly password: string;
  /** What sudo prints when it wants the password (`-p`); `%` is sudo's escape, so none here. */
  readonly prompt: string;
  /** What the wrapper prints on stderr once sudo is done and the command is about to start. */
  readonly ready: string;
}

export function sudoPassword(password: string): SudoPassword {
  const tag = randomBytes(8).toString('hex');
  return { password, prompt: `[pgrepl-wizard sudo ${tag}]`, ready: `pgrepl-wizard-sudo-ready-${tag}` };
}

/** `$0` is the ready marker: printed on stderr, then the command replaces the shell. */
export const sudoReadyScript = 'printf "%s\\n" "$0" >&2; exec "$@"';

/** The prefix that runs argv as `user` (root when absent) through a sudo that may ask for the password. */
export function sudoWithPassword(sudo: SudoPassword, user?: string): string[] {
  return ['sudo', '-k', '-S', '-p', sudo.prompt, ...(user ? ['-u', user] : []), '--', 'sh', '-c', sudoReadyScript, sudo.ready];
}

/** `sudo -v` with the password: proves it right after connecting, before anything changes. */
export function sudoValidate(sudo: SudoPassword): string[] {
  return ['sudo', '-k', '-S', '-p', sudo.prompt, '-v'];
}

/** sudo ended before the command started: its own messages (prompts removed) and exit code. */
export class SudoEnded extends Error {
  constructor(
    readonly code: number,
    readonly wrapperStderr: string,
  ) {
    super(wrapperStderr || `sudo exited with code ${code}`);
  }
}

/**
 * Talks to sudo on a fresh channel: answers its prompt once with the password (a second
 * prompt means it was refused: stdin is closed so sudo gives up instead of waiting), and
 * calls `onReady` with the command's first stderr bytes (and what came before the ready
 * marker) the moment the marker arrives, synchronously, so the caller's listeners miss no event. Without a ready marker (`sudo -v`,
 * or sudo refusing), `onEnded` gets the exit code and sudo's messages.
 */
export function answerSudo(
  channel: ClientChannel,
  sudo: SudoPassword,
  onReady: (firstStderr: string, beforeCommand: string) => void,
  onEnded: (ended: SudoEnded) => void,
  expectReady = true,
): void {
  let before = '';
  let prompts = 0;
  const onData = (chunk: Buffer) => {
    before += chunk.toString();
    const asked = before.split(sudo.prompt).length - 1;
    if (asked > prompts) {
      prompts = asked;
      if (prompts === 1) channel.write(`${sudo.password}\n`);
      else channel.end();
    }
    const marker = expectReady ? before.indexOf(`${sudo.ready}\n`) : -1;
    if (marker >= 0) {
      detach();
      onReady(before.slice(marker + sudo.ready.length + 1), before.slice(0, marker));
    }
  };
  // The ready marker comes before the command runs, so an exit without it is sudo's own;
  // the channel closes once its (empty) output is drained, and by then sudo's messages are in.
  let code: number | null = null;
  const onExit = (exitCode: number | null, signal?: string) => {
    code = exitCode ?? (signal ? 128 : 255);
    channel.resume();
  };
  const onClose = () => {
    detach();
    onEnded(new SudoEnded(code ?? 255, before.split(sudo.prompt).join('').trim()));
  };
  const detach = () => {
    channel.stderr.off('data', onData);
    channel.off('exit', onExit);
    channel.off('close', onClose);
  };
  channel.stderr.on('data', onData);
  channel.on('exit', onExit);
  channel.on('close', onClose);
}
