import { MosaicError } from '@mosaic/connection';

/** Why the plugin refuses to start; `code` is stable, `message` says what to do. */
export type GatewayStartupCode = 'NO_SCHEMA' | 'SCHEMA_TOO_NEW' | 'TIER_MISMATCH' | 'UNFINISHED_MIGRATION' | 'STORE_MOVED' | 'BAD_OPTION';

export class GatewayStartupError extends MosaicError<GatewayStartupCode> {
  override readonly name = 'GatewayStartupError';
}

/**
 * Why a migration job ended without success when no package raised the error (the job's own
 * checks): the verification differed, writes still in flight at the freeze did not finish in
 * time, or an operator (or the gateway's shutdown) cancelled it.
 */
export type GatewayJobCode = 'VERIFY_DIFFERENCES' | 'WRITES_IN_FLIGHT' | 'JOB_CANCELLED';

export class GatewayJobError extends MosaicError<GatewayJobCode> {
  override readonly name = 'GatewayJobError';
}

/**
 * A write refused through `app.mosaicStore.write()`: a migration's freeze (for now), or a store
 * that was retired (for good: it moved; the message names where).
 */
export type GatewayWriteCode = 'WRITES_FROZEN' | 'WRITES_RETIRED';

/**
 * Carries `statusCode` and `headers`, which Fastify's default error handler turns into the
 * response (503 with Retry-After): an app route need not catch it.
 */
export class GatewayWriteError extends MosaicError<GatewayWriteCode> {
  override readonly name = 'GatewayWriteError';
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: GatewayWriteCode, message: string, response: { statusCode: number; headers: Record<string, string> }) {
    super(code, message);
    this.statusCode = response.statusCode;
    this.headers = response.headers;
  }
}
