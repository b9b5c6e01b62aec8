import { WizardError } from '../errors.js';

/**
 * A command's interruption: aborted when the process receives one of `signals` (Ctrl-C is
 * SIGINT), with "interrupted by the operator" and `fix`, what to do next. `stopListening` in
 * the command's finally.
 */
export function interruptionOn(signals: readonly NodeJS.Signals[], where: string, fix: string, exitCode?: number): { signal: AbortSignal; stopListening(): void } {
  const controller = new AbortController();
  const interrupt = () => controller.abort(new WizardError('interrupted by the operator', where, fix, exitCode));
  signals.forEach((signal) => process.once(signal, interrupt));
  return { signal: controller.signal, stopListening: () => signals.forEach((signal) => process.off(signal, interrupt)) };
}
