import { ConnectionError } from '../errors.js';
import type { WorkerError } from './protocol.js';

/** A PGlite error, as it crossed from the store's thread, as a ConnectionError with every server field. */
export function mapPgliteError(error: WorkerError, display: string): ConnectionError {
  const sqlState = typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code) ? error.code : undefined;
  const { detail, hint, schema, table, column, constraint } = error;
  return new ConnectionError('QUERY_FAILED', `${sqlState ? `PostgreSQL error ${sqlState}` : 'PGlite error'} at ${display}: ${error.message.split('\n')[0]}`, {
    cause: error, sqlState, detail, hint, schema, table, column, constraint,
  });
}
