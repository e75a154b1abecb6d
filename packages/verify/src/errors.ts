import { MosaicError } from '@mosaic/connection';

export type VerifyErrorCode = 'SOURCE_NO_SCHEMA' | 'TARGET_NO_SCHEMA';

export class VerifyError extends MosaicError<VerifyErrorCode> {
  override readonly name = 'VerifyError';
}
