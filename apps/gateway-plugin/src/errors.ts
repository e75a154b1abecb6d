/** Why the plugin refuses to start; `code` is stable, `message` says what to do. */
export type GatewayStartupCode = 'NO_SCHEMA' | 'SCHEMA_TOO_NEW' | 'TIER_MISMATCH' | 'UNFINISHED_MIGRATION';

export class GatewayStartupError extends Error {
  override readonly name = 'GatewayStartupError';
  readonly code: GatewayStartupCode;

  constructor(code: GatewayStartupCode, message: string) {
    super(message);
    this.code = code;
  }
}
