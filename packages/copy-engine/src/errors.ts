import { MosaicError } from '@mosaic/connection';

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
  | 'CONSTRAINT_FAILED'
  | 'TARGET_CHANGED_SINCE_RUN';

/** A refusal or failure of the copy engine, one operator line with the fix. */
export class CopyEngineError extends MosaicError<CopyEngineErrorCode> {
  override readonly name = 'CopyEngineError';
}
