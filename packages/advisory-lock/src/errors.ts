import { MosaicError } from '@mosaic/connection';

export type AdvisoryLockErrorCode = 'LOCK_TIMEOUT' | 'POOLER_DETECTED' | 'LOCK_LOST' | 'LOCK_ABORTED';

export class AdvisoryLockError extends MosaicError<AdvisoryLockErrorCode> {
  override readonly name = 'AdvisoryLockError';
}
