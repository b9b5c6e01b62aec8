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
 * Work on a host cut short before it finished: the connection lost, or a command ended because
 * the run was interrupted. `state` says what the cut-short work left on the servers; the step
 * that knows adds it (withState), the runner gives a general one otherwise.
 */
export abstract class CutShort extends WizardError {
  abstract readonly state?: string;
  /** The same error, with what it left behind on the servers. */
  abstract withState(state: string): CutShort;
}

/** The SSH connection to a host went away mid-run (network down, host or sshd stopped, the session killed). */
export class ConnectionLost extends CutShort {
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

  withState(state: string): ConnectionLost {
    return new ConnectionLost(this.role, this.label, this.reason, state);
  }
}

/**
 * The run was interrupted (Ctrl-C, SIGTERM, SIGHUP) while a command or query ran on a host:
 * the wizard ended it there (its process group, or the query's session) rather than wait for it.
 * `reason` is the interruption's own error (its words, fix and exit code).
 */
export class CommandInterrupted extends CutShort {
  constructor(
    readonly reason: WizardError,
    readonly role: string,
    readonly label: string,
    readonly running: string,
    readonly state?: string,
  ) {
    super(`${reason.message}: ${running} was running on the ${role} ${label} and was ended${state ? `. ${state}` : ''}`, `${role} ${label}`, reason.fix, reason.exitCode);
    this.name = 'CommandInterrupted';
  }

  withState(state: string): CommandInterrupted {
    return new CommandInterrupted(this.reason, this.role, this.label, this.running, state);
  }
}

/**
 * sudo refused a command it ran as the same user earlier in this run (its rule was removed or
 * changed meanwhile): the command did not run. The message is the remote layer's one wording
 * for a sudo refusal, with what sudo says now.
 */
export class SudoRefusedMidRun extends CutShort {
  constructor(
    message: string,
    where: string,
    fix: string,
    readonly state?: string,
  ) {
    super(`${message}${state ? `. ${state}` : ''}`, where, fix);
    this.name = 'SudoRefusedMidRun';
  }

  withState(state: string): SudoRefusedMidRun {
    return new SudoRefusedMidRun(this.message, this.where, this.fix, state);
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
