import { MosaicError } from './mosaic-error.js';

/** Stable codes for everything that can go wrong opening or talking to a location. */
export type ConnectionErrorCode =
  | 'INVALID_LOCATION'
  | 'UNSUPPORTED_SCHEME'
  | 'AUTH_FAILED'
  | 'DATABASE_NOT_FOUND'
  | 'CONNECTION_REFUSED'
  | 'HOST_NOT_FOUND'
  | 'CONNECT_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'STORE_NOT_FOUND'
  | 'NOT_A_DIRECTORY'
  | 'NOT_A_PGLITE_STORE'
  | 'STORE_UNREADABLE'
  | 'STORE_LOCKED'
  | 'STORE_INCOMPATIBLE'
  | 'QUERY_FAILED'
  | 'COPY_FAILED';

/**
 * Every failure of this package. `message` is one line for an operator, already redacted;
 * the driver's error stays on `cause` (never printed by the CLI, kept for debugging).
 */
export class ConnectionError extends MosaicError<ConnectionErrorCode> {
  override readonly name = 'ConnectionError';
}

export function isConnectionError(error: unknown): error is ConnectionError {
  return error instanceof ConnectionError;
}
