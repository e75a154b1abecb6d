export type VerifyErrorCode = 'SOURCE_NO_SCHEMA' | 'TARGET_NO_SCHEMA';

export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  readonly code: VerifyErrorCode;

  constructor(code: VerifyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
