/** Exit statuses of the mosaic command (DESIGN section 4). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  PRECONDITION: 3,
  VERIFY_DIFFERENCES: 4,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** Error codes from every package, by the exit status they mean. Unlisted codes exit 1. */
const STATUS_BY_CODE: Record<string, ExitStatus> = {
  // The operator typed something no environment change can fix.
  INVALID_LOCATION: EXIT.USAGE,
  UNSUPPORTED_SCHEME: EXIT.USAGE,
  INVALID_OPTIONS: EXIT.USAGE,
  NOT_A_DIRECTORY: EXIT.USAGE,
  NOT_A_PGLITE_STORE: EXIT.USAGE,
  STORE_NOT_FOUND: EXIT.USAGE,
  USAGE: EXIT.USAGE,
  // The location is fine but not in a state this command may act on.
  NO_SCHEMA: EXIT.PRECONDITION,
  NOT_EMPTY: EXIT.PRECONDITION,
  SCHEMA_TOO_NEW: EXIT.PRECONDITION,
  TIER_MISMATCH: EXIT.PRECONDITION,
  VECTOR_UNAVAILABLE: EXIT.PRECONDITION,
  VECTOR_NEEDS_SUPERUSER: EXIT.PRECONDITION,
  STORE_LOCKED: EXIT.PRECONDITION,
  STORE_INCOMPATIBLE: EXIT.PRECONDITION,
  LOCK_TIMEOUT: EXIT.PRECONDITION,
  POOLER_DETECTED: EXIT.PRECONDITION,
};

export function exitStatusFor(code: string | undefined): ExitStatus {
  return (code && STATUS_BY_CODE[code]) || EXIT.FAILURE;
}
