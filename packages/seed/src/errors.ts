import { MosaicError } from '@mosaic/connection';

export type SeedErrorCode = 'INVALID_OPTIONS' | 'NO_SCHEMA' | 'SCHEMA_TOO_NEW' | 'NOT_EMPTY';

export class SeedError extends MosaicError<SeedErrorCode> {
  override readonly name = 'SeedError';
}
