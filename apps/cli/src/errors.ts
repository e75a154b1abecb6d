import { isMosaicError, MosaicError, redactText } from '@mosaic/connection';
import { exitStatusFor } from './exit.js';
import type { ExitStatus } from './exit.js';

/** Codes the CLI decides itself; UNEXPECTED is any error that carries no Mosaic code. */
export type CliErrorCode = 'USAGE' | 'NO_SCHEMA' | 'SCHEMA_TOO_NEW' | 'VERIFY_DIFFERENCES' | 'UNEXPECTED';

/** A refusal decided by the CLI itself, with a code from the exit table. */
export class CliError extends MosaicError<CliErrorCode> {
  override readonly name = 'CliError';
}

/** A usage error found by the CLI itself (conflicting flags and the like). */
export class UsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/**
 * One line for the operator and the exit status. Package errors already carry a redacted,
 * operator-facing message and a stable code; anything else is an unexpected failure, said
 * in one line too (the stack only with MOSAIC_DEBUG=1).
 */
export function describeError(error: unknown): { line: string; status: ExitStatus; code: string } {
  const e = error as { message?: unknown };
  // Only a Mosaic error's code and message are meant for the operator: a driver's or Node's own
  // (ECONNRESET, a postgres.js error that escaped wrapping) is an unexpected failure.
  const known = isMosaicError(error) && error.code !== 'UNEXPECTED';
  const code = known ? error.code : 'UNEXPECTED';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const line = redactText(message.split('\n')[0]!.trim());
  return {
    line: known ? line : `Unexpected error: ${line} (set MOSAIC_DEBUG=1 for details)`,
    status: known ? exitStatusFor(code) : 1,
    code,
  };
}
