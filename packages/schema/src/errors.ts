import { MosaicError } from '@mosaic/connection';

export type SchemaErrorCode =
  | 'TIER_MISMATCH'
  | 'SCHEMA_TOO_NEW'
  | 'VECTOR_UNAVAILABLE'
  | 'VECTOR_NEEDS_SUPERUSER'
  | 'MIGRATION_FAILED';

/** A schema problem an operator can fix; `message` says how in one line. */
export class SchemaError extends MosaicError<SchemaErrorCode> {
  override readonly name = 'SchemaError';
}
