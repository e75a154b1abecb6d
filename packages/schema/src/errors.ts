export type SchemaErrorCode =
  | 'TIER_MISMATCH'
  | 'SCHEMA_TOO_NEW'
  | 'VECTOR_UNAVAILABLE'
  | 'VECTOR_NEEDS_SUPERUSER'
  | 'MIGRATION_FAILED';

/** A schema problem an operator can fix; `message` says how in one line. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  readonly code: SchemaErrorCode;

  constructor(code: SchemaErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}
