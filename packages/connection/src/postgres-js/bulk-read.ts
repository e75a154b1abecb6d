import type postgres from 'postgres';
import type { ConnectionError } from '../errors.js';
import { sessionSetSql } from '../types.js';
import { WireCopyOut } from '../wire/copy-out.js';
import type { WireError, WireTarget } from '../wire/copy-out.js';

/**
 * Where the wire reader (../wire/copy-out.ts) can take a COPY TO over from postgres.js: the
 * connection postgres.js resolved from the URL and the environment, when it is one plain socket
 * (no TLS, one host, a password given as text). Anything else: undefined, and the COPY stays with
 * postgres.js. MOSAIC_COPY_READER=postgres.js keeps every COPY there (a way out, and a test's way
 * to compare the two).
 */
export function wireTarget(sql: postgres.Sql, connectTimeoutSeconds: number): WireTarget | undefined {
  if (process.env['MOSAIC_COPY_READER'] === 'postgres.js') return undefined;
  const o = sql.options as unknown as {
    host: string[]; port: number[]; path?: string | false; user: string; pass: unknown; database: string;
    ssl: unknown; target_session_attrs?: unknown; connection: Record<string, unknown>;
  };
  // (`socket` is always ours, postgres-js/socket.ts: it only turns Nagle off.)
  if (o.ssl || o.target_session_attrs || o.host.length !== 1 || typeof o.pass !== 'string') return undefined;
  const parameters: Record<string, string> = { client_encoding: 'UTF8' };
  for (const [k, v] of Object.entries(o.connection)) if (typeof v === 'string' || typeof v === 'number') parameters[k] = String(v);
  return {
    host: o.host[0]!, port: o.port[0] ?? 5432, path: typeof o.path === 'string' ? o.path : undefined,
    user: o.user, password: o.pass, database: o.database, parameters, connectTimeoutMs: connectTimeoutSeconds * 1000,
  };
}

/**
 * The one message a bulk read sends: inside the snapshot when given (SET TRANSACTION SNAPSHOT must
 * open the transaction), the session settings, then the COPY. statement_timeout and the newer
 * timeouts set to 0 in the transaction also stop a timer a role's default had already started.
 */
export function bulkReadSql(copy: string, snapshot?: string): string {
  const open = snapshot === undefined ? '' : `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'; `;
  return `${open}${sessionSetSql()} ${copy}${snapshot === undefined ? '' : '; COMMIT'}`;
}

/** The wire reader's COPY, its errors mapped as the driver maps postgres.js's, its server process in `pids` while it runs. */
export function wireCopyTo(target: WireTarget, copy: string, snapshot: string | undefined, pids: Set<number>, mapError: (error: WireError) => ConnectionError): AsyncIterableIterator<Uint8Array> {
  let pid: number | undefined;
  const reader = new WireCopyOut(target, bulkReadSql(copy, snapshot), {
    onBackend: (p) => pids.add((pid = p)),
    onEnd: () => void (pid !== undefined && pids.delete(pid)),
  });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => reader.next().catch((error: unknown) => {
      throw mapError(error as WireError);
    }),
    return: () => reader.return(),
  };
}
