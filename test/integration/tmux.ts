import { execFileSync } from 'node:child_process';
import { commandLine } from '../../src/remote/quote.js';

/**
 * Drives a program in a real terminal, as an operator does: tmux runs it, send-keys types,
 * capture-pane reads the screen. The program's exit code is printed as EXIT=<n> when it ends.
 */
export class TerminalSession {
  private static count = 0;
  readonly name = `pgrepl-test-${process.pid}-${TerminalSession.count++}`;

  start(argv: string[], env: Record<string, string> = {}): void {
    const exports = Object.entries(env).map(([key, value]) => `export ${key}=${commandLine([value])};`).join(' ');
    const script = `${exports} ${commandLine(argv)}; echo EXIT=$?; sleep 600`;
    execFileSync('tmux', ['new-session', '-d', '-s', this.name, '-x', '160', '-y', '60', 'sh', '-c', script]);
  }

  /** Everything the terminal showed, scrollback included. */
  screen(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-J', '-t', this.name, '-S', '-2000'], { encoding: 'utf8' });
  }

  /** What the terminal shows now (no scrollback); with `colors`, the SGR escapes too (31m is red). */
  visible(colors = false): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-J', ...(colors ? ['-e'] : []), '-t', this.name], { encoding: 'utf8' });
  }

  /** Waits until the screen shows the text (or the condition holds); returns the screen. */
  async waitFor(pattern: string | RegExp | (() => boolean), timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      const met = typeof pattern === 'function' ? pattern() : typeof pattern === 'string' ? screen.includes(pattern) : pattern.test(screen);
      if (met) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} on screen:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Keys as tmux names them (Enter, Down, Escape, C-c) or literal text with `literal`. */
  async send(keys: string[], literal = false): Promise<void> {
    execFileSync('tmux', ['send-keys', '-t', this.name, ...(literal ? ['-l'] : []), ...keys]);
    // A pause as a person leaves between keys; keys sent in one call arrive together.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }

  close(): void {
    execFileSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
  }
}
