import { ConnectionError } from './errors.js';

interface DriverError {
  code?: string;
  errno?: string | number;
  message?: string;
  detail?: string;
  hint?: string;
  severity?: string;
  hostname?: string;
  schema_name?: string;
  table_name?: string;
  column_name?: string;
  constraint_name?: string;
}

/** Every field PostgreSQL sent with the error, as postgres.js names them. */
function fieldsOf(e: DriverError) {
  return {
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
    ...(e.schema_name ? { schema: e.schema_name } : {}),
    ...(e.table_name ? { table: e.table_name } : {}),
    ...(e.column_name ? { column: e.column_name } : {}),
    ...(e.constraint_name ? { constraint: e.constraint_name } : {}),
  };
}

/**
 * Turns a postgres.js or socket error into a ConnectionError with one operator line.
 * The original error stays on `cause`; postgres.js keeps query parameters off it.
 */
export function mapPostgresError(error: unknown, display: string): ConnectionError {
  if (error instanceof ConnectionError) return error;
  const e = (error ?? {}) as DriverError;
  const code = typeof e.code === 'string' ? e.code : '';
  const host = hostOf(display);
  switch (code) {
    case '28P01':
    case '28000':
      return new ConnectionError('AUTH_FAILED', `Authentication failed for ${display}: check the user name and password in the URL.`, { cause: error, sqlState: code });
    case '3D000':
      return new ConnectionError('DATABASE_NOT_FOUND', `Database does not exist at ${display}: create it first (createdb) or fix the database name in the URL.`, { cause: error, sqlState: code });
    case 'ECONNREFUSED':
      return new ConnectionError('CONNECTION_REFUSED', `Connection refused by ${host} (${display}): is PostgreSQL running and listening on that port?`, { cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new ConnectionError('HOST_NOT_FOUND', `Host name ${host} does not resolve (${display}): check the host in the URL.`, { cause: error });
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return new ConnectionError('CONNECT_TIMEOUT', `No answer from ${host} within the connect timeout (${display}): is it a PostgreSQL server, and reachable?`, { cause: error });
    case 'ECONNRESET':
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_ENDED':
    case 'CONNECTION_DESTROYED':
      return new ConnectionError('CONNECTION_REFUSED', `The server at ${display} closed the connection: is it a PostgreSQL server?`, { cause: error });
  }
  const message = oneLine(e.message ?? String(error));
  if (/^[0-9A-Z]{5}$/.test(code)) {
    return new ConnectionError('QUERY_FAILED', `PostgreSQL error ${code} at ${display}: ${message}`, {
      cause: error, sqlState: code, ...fieldsOf(e),
    });
  }
  return new ConnectionError('QUERY_FAILED', `${display}: ${message}`, { cause: error });
}

/** host:port (or the socket directory) named by a URL, for messages. */
function hostOf(display: string): string {
  try {
    const url = new URL(display);
    const socket = url.searchParams.get('host');
    if (socket) return socket;
    return url.port ? `${url.hostname}:${url.port}` : url.hostname;
  } catch {
    return display;
  }
}

function oneLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
