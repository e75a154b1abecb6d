import { MosaicError } from '@mosaic/connection';

export type WriteFreezeErrorCode =
  | 'FREEZE_BLOCKED'
  | 'FREEZE_ACK_TIMEOUT'
  | 'STORE_FROZEN'
  | 'STORE_RETIRED'
  | 'FREEZE_LOST'
  | 'LIFT_BLOCKED'
  | 'FREEZE_ABORTED'
  | 'FREEZE_NOT_PERMITTED';

/** A refusal or failure of a freeze, lift, fence or unfence: one operator line with the fix. */
export class WriteFreezeError extends MosaicError<WriteFreezeErrorCode> {
  override readonly name = 'WriteFreezeError';
}
