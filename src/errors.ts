/**
 * An error the operator can act on: what failed, where, and what to do about it.
 * Every failure that reaches the screen or stderr goes through this shape.
 */
export class WizardError extends Error {
  constructor(
    message: string,
    readonly where: string,
    readonly fix: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'WizardError';
  }
}

export class UsageError extends WizardError {
  constructor(message: string, fix: string) {
    super(message, 'command line', fix, 2);
    this.name = 'UsageError';
  }
}

export function formatError(error: unknown): string {
  if (error instanceof WizardError) {
    return `error: ${error.message}\n  where: ${error.where}\n  fix:   ${error.fix}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `error: ${message}`;
}
