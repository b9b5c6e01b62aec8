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

/**
 * The SSH connection to a host went away mid-run (network down, host or sshd stopped, the
 * session killed). `state` says what the interrupted work left on the servers; the step that
 * knows adds it, the runner gives a general one otherwise.
 */
export class ConnectionLost extends WizardError {
  constructor(
    readonly role: string,
    readonly label: string,
    readonly reason: string,
    readonly state?: string,
  ) {
    super(
      `lost the SSH connection to the ${role} ${label}: ${reason}${state ? `. ${state}` : ''}`,
      `${role} ${label}`,
      `when "ssh ${label}" works again, run the same command again: finished steps are detected and skipped, an interrupted one starts over`,
    );
    this.name = 'ConnectionLost';
  }

  /** The same loss, with what it left behind on the servers. */
  withState(state: string): ConnectionLost {
    return new ConnectionLost(this.role, this.label, this.reason, state);
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
