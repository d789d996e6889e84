import { LadeError, type LadeErrorOptions } from '@lade/digest';

/**
 * A command line that cannot run: unknown command or flag, wrong number of arguments, a bad flag value.
 * Printed as docker prints it (no `Error:` prefix); flag errors exit 125 as docker's do, the rest 1.
 */
export class UsageError extends LadeError {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1, options: LadeErrorOptions = {}) {
    super('USAGE', message, options);
    this.exitCode = exitCode;
  }
}

/** A command that failed: printed as `Error: <message>`, exit code 1. */
export class CommandError extends LadeError {
  constructor(code: string, message: string, options: LadeErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The user declined a prompt: nothing printed, exit code 0 (docker's `errdefs.Cancelled`). */
export class CancelledError extends LadeError {
  constructor(message: string) {
    super('CANCELLED', message);
  }
}
