export type CopyEngineErrorCode =
  | 'SOURCE_NO_SCHEMA'
  | 'SOURCE_SCHEMA_MISMATCH'
  | 'TARGET_NOT_EMPTY'
  | 'TIER_MISMATCH'
  | 'VECTOR_UNAVAILABLE'
  | 'VECTOR_NEEDS_SUPERUSER'
  | 'DOWNGRADE_DROPS_EMBEDDINGS'
  | 'SAME_LOCATION'
  | 'UNSUPPORTED_TARGET'
  | 'COPY_STALLED'
  | 'COPY_MISMATCH'
  | 'LOCK_TIMEOUT'
  | 'CONSTRAINT_FAILED';

/** A refusal or failure of the copy engine, one operator line with the fix. */
export class CopyEngineError extends Error {
  override readonly name = 'CopyEngineError';
  readonly code: CopyEngineErrorCode;

  constructor(code: CopyEngineErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}
