export type AdvisoryLockErrorCode = 'LOCK_TIMEOUT' | 'POOLER_DETECTED' | 'LOCK_LOST' | 'LOCK_ABORTED';

export class AdvisoryLockError extends Error {
  override readonly name = 'AdvisoryLockError';
  readonly code: AdvisoryLockErrorCode;

  constructor(code: AdvisoryLockErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}
