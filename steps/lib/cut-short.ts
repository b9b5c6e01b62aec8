import { CutShort } from '../../src/errors.js';

/**
 * Runs `work`; when a lost SSH connection or an interruption cuts it short, the error says what the servers
 * hold now (`state`), so the operator knows what was left and that running again is safe.
 */
export async function sayingWhatIsLeft<T>(work: () => Promise<T>, state: (cut: CutShort) => string): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof CutShort && !error.state ? error.withState(state(error)) : error;
  }
}
