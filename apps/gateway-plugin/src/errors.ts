import { MosaicError } from '@mosaic/connection';

/** Why the plugin refuses to start; `code` is stable, `message` says what to do. */
export type GatewayStartupCode = 'NO_SCHEMA' | 'SCHEMA_TOO_NEW' | 'TIER_MISMATCH' | 'UNFINISHED_MIGRATION';

export class GatewayStartupError extends MosaicError<GatewayStartupCode> {
  override readonly name = 'GatewayStartupError';
}

/** Why a migration job failed when no package raised the error (the job's own checks). */
export type GatewayJobCode = 'VERIFY_DIFFERENCES';

export class GatewayJobError extends MosaicError<GatewayJobCode> {
  override readonly name = 'GatewayJobError';
}
