export type SeedErrorCode = 'INVALID_OPTIONS' | 'NO_SCHEMA' | 'SCHEMA_TOO_NEW' | 'NOT_EMPTY';

export class SeedError extends Error {
  override readonly name = 'SeedError';
  readonly code: SeedErrorCode;

  constructor(code: SeedErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
