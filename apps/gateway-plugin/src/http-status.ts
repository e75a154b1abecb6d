import { isMosaicError } from '@mosaic/connection';
import type { ConnectionErrorCode } from '@mosaic/connection';
import type { AdvisoryLockErrorCode } from '@mosaic/advisory-lock';
import type { CopyEngineErrorCode } from '@mosaic/copy-engine';
import type { SchemaErrorCode } from '@mosaic/schema';
import type { VerifyErrorCode } from '@mosaic/verify';
import type { WriteFreezeErrorCode } from '@mosaic/write-freeze';
import type { GatewayJobCode, GatewayWriteCode } from './errors.js';

/** Every code an admin route or a job can end with. */
export type AdminErrorCode = ConnectionErrorCode | SchemaErrorCode | AdvisoryLockErrorCode | CopyEngineErrorCode | VerifyErrorCode | WriteFreezeErrorCode | GatewayJobCode | GatewayWriteCode | 'UNEXPECTED';

/**
 * The HTTP status of every code. `satisfies Record<AdminErrorCode, ...>`: a code added to any
 * package's union does not compile until it has a status here. 400: the request named something
 * unusable; 409: the target or store is not in a state to act on; 502/504: the database the
 * request named failed or did not answer; 503: writes are frozen (a migration runs); 500: the run itself failed.
 */
const HTTP_STATUS_BY_CODE = {
  INVALID_LOCATION: 400,
  UNSUPPORTED_SCHEME: 400,
  NOT_A_DIRECTORY: 400,
  NOT_A_PGLITE_STORE: 400,
  STORE_NOT_FOUND: 400,
  SAME_LOCATION: 400,
  UNSUPPORTED_TARGET: 400,
  TIER_MISMATCH: 409,
  SCHEMA_TOO_NEW: 409,
  VECTOR_UNAVAILABLE: 409,
  VECTOR_NEEDS_SUPERUSER: 409,
  SOURCE_NO_SCHEMA: 409,
  SOURCE_SCHEMA_MISMATCH: 409,
  TARGET_NOT_EMPTY: 409,
  TARGET_CHANGED_SINCE_RUN: 409,
  TARGET_NO_SCHEMA: 409,
  DOWNGRADE_DROPS_EMBEDDINGS: 409,
  STORE_LOCKED: 409,
  STORE_LOCK_TIMEOUT: 409,
  STORE_INCOMPATIBLE: 409,
  LOCK_TIMEOUT: 409,
  POOLER_DETECTED: 409,
  VERIFY_DIFFERENCES: 409,
  WRITES_IN_FLIGHT: 409,
  JOB_CANCELLED: 409,
  WRITES_FROZEN: 503,
  WRITES_RETIRED: 503,
  AUTH_FAILED: 502,
  DATABASE_NOT_FOUND: 502,
  CONNECTION_REFUSED: 502,
  HOST_NOT_FOUND: 502,
  CONNECTION_LOST: 502,
  QUERY_FAILED: 502,
  STORE_UNREADABLE: 502,
  CONNECT_TIMEOUT: 504,
  COPY_STALLED: 504,
  COPY_FAILED: 500,
  MIGRATION_FAILED: 500,
  LOCK_LOST: 500,
  LOCK_ABORTED: 500,
  COPY_MISMATCH: 500,
  CONSTRAINT_FAILED: 500,
  UNEXPECTED: 500,
  // @mosaic/write-freeze: another run's freeze, a retired store, writers or gateways that did not stop in time: 409; the fence itself failed: 500.
  STORE_FROZEN: 409, STORE_RETIRED: 409, FREEZE_BLOCKED: 409, FREEZE_ACK_TIMEOUT: 409, FREEZE_NOT_PERMITTED: 409, FREEZE_LOST: 500, LIFT_BLOCKED: 500, FREEZE_ABORTED: 500,
} as const satisfies Record<AdminErrorCode, number>;

/** The HTTP status for an error thrown by an admin route: a Mosaic code's, else Fastify's own 4xx, else 500. */
export function httpStatusFor(error: unknown): number {
  if (isMosaicError(error) && Object.hasOwn(HTTP_STATUS_BY_CODE, error.code)) return HTTP_STATUS_BY_CODE[error.code as AdminErrorCode];
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}
