import type { AdvisoryLockErrorCode } from '@mosaic/advisory-lock';
import type { ConnectionErrorCode } from '@mosaic/connection';
import type { CopyEngineErrorCode } from '@mosaic/copy-engine';
import type { SchemaErrorCode } from '@mosaic/schema';
import type { SeedErrorCode } from '@mosaic/seed';
import type { VerifyErrorCode } from '@mosaic/verify';
import type { WriteFreezeErrorCode } from '@mosaic/write-freeze';
import type { CliErrorCode } from './errors.js';

/** Exit statuses of the mosaic command (DESIGN section 4). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  PRECONDITION: 3,
  VERIFY_DIFFERENCES: 4,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** Every code an error can carry to the CLI: the packages' own unions and the CLI's. */
export type ErrorCode = ConnectionErrorCode | SchemaErrorCode | AdvisoryLockErrorCode | CopyEngineErrorCode | VerifyErrorCode | SeedErrorCode | WriteFreezeErrorCode | CliErrorCode;

/**
 * The exit status of every code. `satisfies Record<ErrorCode, ...>`: a code added to any
 * package's union does not compile until it has its status here.
 */
const STATUS_BY_CODE = {
  // The operator typed something no environment change can fix.
  INVALID_LOCATION: EXIT.USAGE,
  UNSUPPORTED_SCHEME: EXIT.USAGE,
  INVALID_OPTIONS: EXIT.USAGE,
  NOT_A_DIRECTORY: EXIT.USAGE,
  NOT_A_PGLITE_STORE: EXIT.USAGE,
  STORE_NOT_FOUND: EXIT.USAGE,
  USAGE: EXIT.USAGE,
  SAME_LOCATION: EXIT.USAGE,
  UNSUPPORTED_TARGET: EXIT.USAGE,
  // The location is fine but not in a state this command may act on.
  NO_SCHEMA: EXIT.PRECONDITION,
  NOT_EMPTY: EXIT.PRECONDITION,
  SCHEMA_TOO_NEW: EXIT.PRECONDITION,
  TIER_MISMATCH: EXIT.PRECONDITION,
  VECTOR_UNAVAILABLE: EXIT.PRECONDITION,
  VECTOR_NEEDS_SUPERUSER: EXIT.PRECONDITION,
  STORE_LOCKED: EXIT.PRECONDITION,
  STORE_LOCK_TIMEOUT: EXIT.PRECONDITION,
  STORE_INCOMPATIBLE: EXIT.PRECONDITION,
  LOCK_TIMEOUT: EXIT.PRECONDITION,
  SOURCE_NO_SCHEMA: EXIT.PRECONDITION,
  SOURCE_SCHEMA_MISMATCH: EXIT.PRECONDITION,
  TARGET_NOT_EMPTY: EXIT.PRECONDITION,
  TARGET_CHANGED_SINCE_RUN: EXIT.PRECONDITION,
  DOWNGRADE_DROPS_EMBEDDINGS: EXIT.PRECONDITION,
  TARGET_NO_SCHEMA: EXIT.PRECONDITION,
  POOLER_DETECTED: EXIT.PRECONDITION,
  STORE_FROZEN: EXIT.PRECONDITION,
  STORE_RETIRED: EXIT.PRECONDITION,
  FREEZE_BLOCKED: EXIT.PRECONDITION,
  FREEZE_ACK_TIMEOUT: EXIT.PRECONDITION,
  FREEZE_NOT_PERMITTED: EXIT.PRECONDITION,
  // The target differs from the source.
  VERIFY_DIFFERENCES: EXIT.VERIFY_DIFFERENCES,
  // Something failed on the way: a re-run (after the fix the message names) goes on.
  AUTH_FAILED: EXIT.FAILURE,
  DATABASE_NOT_FOUND: EXIT.FAILURE,
  CONNECTION_REFUSED: EXIT.FAILURE,
  HOST_NOT_FOUND: EXIT.FAILURE,
  CONNECT_TIMEOUT: EXIT.FAILURE,
  CONNECTION_LOST: EXIT.FAILURE,
  STORE_UNREADABLE: EXIT.FAILURE,
  QUERY_FAILED: EXIT.FAILURE,
  COPY_FAILED: EXIT.FAILURE,
  MIGRATION_FAILED: EXIT.FAILURE,
  LOCK_LOST: EXIT.FAILURE,
  LOCK_ABORTED: EXIT.FAILURE,
  COPY_STALLED: EXIT.FAILURE,
  COPY_MISMATCH: EXIT.FAILURE,
  CONSTRAINT_FAILED: EXIT.FAILURE,
  FREEZE_LOST: EXIT.FAILURE,
  LIFT_BLOCKED: EXIT.FAILURE,
  FREEZE_ABORTED: EXIT.FAILURE,
  UNEXPECTED: EXIT.FAILURE,
} as const satisfies Record<ErrorCode, ExitStatus>;

/** The status of a code; one no package declares (an error from outside) exits 1. */
export function exitStatusFor(code: string | undefined): ExitStatus {
  return (code !== undefined && Object.hasOwn(STATUS_BY_CODE, code) ? STATUS_BY_CODE[code as ErrorCode] : undefined) ?? EXIT.FAILURE;
}
