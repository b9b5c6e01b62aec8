import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labFlags, labReset } from './lab.js';
import { TerminalSession } from './tmux.js';

/**
 * The interactive wizard's screens as an operator reads them in a real terminal: what the
 * first screen, the plan review and the doctor show, and what quitting shows.
 */

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');

describe('the wizard in a real terminal', () => {
  let terminal: TerminalSession | undefined;
  beforeAll(() => labReset());
  afterEach(() => terminal?.close());

  it('Quit with nothing running ends at once, without a "Stopping" message', async () => {
    terminal = new TerminalSession();
    terminal.start(['node', cli, ...labFlags()]);
    await terminal.waitFor('What next?');
    await terminal.send(['Down']);
    await terminal.send(['Down']);
    await terminal.send(['Enter']); // Quit
    const screen = await terminal.waitFor('EXIT=0');
    expect(screen).not.toContain('Stopping');
  });
});
