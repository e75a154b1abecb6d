import { redactText } from '@mosaic/connection';
import { exitStatusFor } from './exit.js';
import type { ExitStatus } from './exit.js';

/** A refusal decided by the CLI itself, with a code from the exit table. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
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
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'UNEXPECTED';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const line = redactText(message.split('\n')[0]!.trim());
  const known = code !== 'UNEXPECTED' && /^[A-Z][A-Z_]+$/.test(code);
  return {
    line: known ? line : `Unexpected error: ${line} (set MOSAIC_DEBUG=1 for details)`,
    status: known ? exitStatusFor(code) : 1,
    code,
  };
}
