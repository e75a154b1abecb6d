import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { ConnectionError } from '../errors.js';
import type { Location } from '../location.js';
import { identity, TEXT_OIDS } from '../text-values.js';
import { inTransaction } from '../transaction.js';
import type { Database, Listener, ListenHandlers, OpenOptions, Row, Session } from '../types.js';
import { POSTGRES_CAPABILITIES, SESSION_SETTINGS, sessionSetSql } from '../types.js';
import { wireCopyTo, wireTarget } from './bulk-read.js';
import { mapPostgresError } from './errors.js';
import { noDelaySockets } from './socket.js';

type Sql = postgres.Sql;
type PostgresLocation = Extract<Location, { engine: 'postgres' }>;

/**
 * libpq's `?host=/socket/dir` names a Unix socket directory; postgres.js takes that as
 * `path` and would otherwise send `host` to the server as a startup parameter.
 */
function socketTarget(url: string): { url: string; path?: string } {
  const parsed = new URL(url);
  const host = parsed.searchParams.get('host');
  if (!host?.startsWith('/')) return { url };
  parsed.searchParams.delete('host');
  return { url: parsed.toString(), path: `${host}/.s.PGSQL.${parsed.port || '5432'}` };
}

interface Client {
  readonly sql: Sql;
  /** SETs the session settings on the connection if it is new (first use, or after a reconnect). */
  ensure(): Promise<void>;
  /**
   * After a lost connection, starts over with a new postgres.js client: a query that failed
   * on a dying socket can leave the old one stuck, so the next statement would never settle.
   */
  recover(error: unknown): Promise<void>;
  /**
   * Settles `work` or rejects as soon as the connection closes under it: postgres.js can leave
   * a COPY or a query pending forever on a connection the server ended (#1173).
   */
  guard<T>(work: Promise<T>): Promise<T>;
  /** A sticky client whose connection ended: it will not run another statement. */
  readonly lost: boolean;
  /** The client has talked to the server: a closed connection from now on is a lost one, not a refusal. */
  readonly established: boolean;
  /** The server process of the current connection, from its BackendKeyData (null before the first). */
  readonly backendPid: number | null;
  /** Aborted when the connection of a sticky client ends (reason: CONNECTION_LOST). */
  readonly closed: AbortSignal;
}

function connectionLost(display: string, cause?: unknown): ConnectionError {
  return new ConnectionError('CONNECTION_LOST', `The connection to ${display} was lost mid-session (the server ended it, or the database was dropped): the open transaction was rolled back; re-run to resume.`, { cause });
}

const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '57P02', '57P03']);

/**
 * A single-connection client: statements queue on it in order, so ensure() runs first.
 * `sticky`: the client IS one session (a transaction, a COPY, a snapshot): once its connection
 * is lost every later statement fails at once with CONNECTION_LOST. Reconnecting would run the
 * rest of a transaction (even its COMMIT or ROLLBACK) on a new connection that knows nothing of
 * it, or wait forever for a database being dropped.
 */
function client(location: PostgresLocation, options: OpenOptions, sticky: boolean): Client {
  const target = socketTarget(location.url);
  let ready = false;
  let lost = false;
  let established = false;
  // postgres.js keeps the BackendKeyData of a connection ({ pid, secret }) on each query's
  // `state`, the same object for the connection's lifetime: read it, never ask the server.
  let backend: { pid: number | null } | undefined;
  const closing = new AbortController();
  const waiters = new Set<(error: Error) => void>();
  const make = () => postgres(target.url, {
    ...clientOptions(options),
    ...(target.path ? { path: target.path } : {}),
    onclose: () => {
      ready = false;
      if (sticky) {
        lost = true;
        closing.abort(connectionLost(location.display));
      }
      const error = Object.assign(new Error('the server closed the connection'), { code: 'CONNECTION_CLOSED' });
      for (const reject of [...waiters]) reject(error);
      waiters.clear();
    },
  });
  let sql = make();
  function guard<T>(work: Promise<T>): Promise<T> {
    let reject!: (error: Error) => void;
    const closed = new Promise<never>((_, r) => {
      reject = r;
    });
    waiters.add(reject);
    return Promise.race([work, closed]).finally(() => waiters.delete(reject));
  }
  return {
    get sql() {
      return sql;
    },
    async ensure() {
      if (lost) throw connectionLost(location.display);
      if (ready) return;
      // A new connection (first use, or after a reconnect) gets a deadline: postgres.js can wait
      // forever for a server that ends the connection during start-up (a database being dropped).
      const setup = sql.unsafe(sessionSetSql()).simple();
      await withDeadline(guard(setup.then(() => undefined)), options);
      backend = (setup as unknown as { state?: { pid: number | null } }).state;
      ready = true;
      established = true;
    },
    get lost() {
      return lost;
    },
    get established() {
      return established;
    },
    get backendPid() {
      return ready ? backend?.pid ?? null : null;
    },
    closed: closing.signal,
    guard,
    async recover(error) {
      const code = (error as { code?: unknown })?.code;
      if (sticky || typeof code !== 'string' || !CONNECTION_LOST.has(code)) return;
      const old = sql;
      ready = false;
      sql = make();
      await old.end({ timeout: 0 }).catch(() => {});
    },
  };
}

function clientOptions(options: OpenOptions): postgres.Options<Record<string, postgres.PostgresType>> {
  // `socket` is a postgres.js option its types do not declare.
  const socket = { socket: noDelaySockets(options.connectTimeoutSeconds ?? 10) } as object;
  return {
    ...socket,
    max: 1,
    // Never recycle the connection on a timer: it would drop the SET session settings.
    max_lifetime: 0,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: 0,
    // Unnamed statements: they also work through a transaction-mode pooler, which the
    // advisory lock must be able to detect (and refuse) rather than fail obscurely.
    prepare: false,
    // No internal type-discovery query: it could outlive a client we end early and reject unhandled.
    fetch_types: false,
    onnotice: () => {},
    // The startup packet carries only what poolers accept; see SESSION_SETTINGS.
    connection: { application_name: options.applicationName ?? 'mosaic', TimeZone: SESSION_SETTINGS.TimeZone, DateStyle: SESSION_SETTINGS.DateStyle } as unknown as postgres.Options<never>['connection'],
    types: { mosaicText: { to: 25, from: [...TEXT_OIDS], serialize: String, parse: identity } },
  };
}

/** Gathers the one-chunk-per-row output of postgres.js into ~256 KB writes (20% faster). */
function coalesce(limit = 256 * 1024): Transform {
  let parts: Buffer[] = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (size === 0 && buf.length >= limit / 2) {
        // Already a big piece (the wire reader's, a PGlite chunk): on as it is, not copied again.
        this.push(buf);
        done();
        return;
      }
      parts.push(buf);
      size += buf.length;
      if (size >= limit) {
        this.push(Buffer.concat(parts, size));
        parts = [];
        size = 0;
      }
      done();
    },
    flush(done) {
      if (size > 0) this.push(Buffer.concat(parts, size));
      done();
    },
  });
}

function makeOps(c: Client, display: string) {
  const { ensure } = c;
  const mapError = (error: unknown): ConnectionError => {
    const code = (error as { code?: unknown })?.code;
    if (c.established && typeof code === 'string' && CONNECTION_LOST.has(code)) return connectionLost(display, error);
    return mapPostgresError(error, display);
  };
  const fail = async (error: unknown): Promise<never> => {
    await c.recover(error);
    throw mapError(error);
  };
  return {
    engine: 'postgres' as const,
    capabilities: POSTGRES_CAPABILITIES,
    async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      try {
        await ensure();
        const rows = await c.guard(c.sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]).then((r) => r));
        return [...rows] as unknown as T[];
      } catch (error) {
        return fail(error);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await ensure();
        await c.guard(c.sql.unsafe(text).simple().then(() => undefined));
      } catch (error) {
        await fail(error);
      }
    },
    async copyFrom(text: string, data: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
      try {
        await ensure();
        const query = c.sql.unsafe(text);
        // postgres.js #1173: the server reports a bad row (a duplicate key, a value of the wrong
        // type) only once the stream has ended, and postgres.js then rejects the query promise,
        // which it already resolved with the stream: nobody hears it and the COPY never settles.
        // Hear it where postgres.js delivers it.
        const rejected = new Promise<never>((_, reject) => {
          const q = query as unknown as { reject: (error: unknown) => void };
          const deliver = q.reject;
          q.reject = (error) => {
            reject(error);
            deliver(error);
          };
        });
        rejected.catch(() => {});
        const writable = await c.guard(Promise.race([query.writable(), rejected]));
        // If the connection dies, stop the pipeline too: its source is then released (a
        // generator's finally runs), instead of hanging on a socket nobody will drain.
        const abort = new AbortController();
        try {
          await c.guard(Promise.race([pipeline(Readable.from(data, { objectMode: true }), coalesce(), writable, { signal: abort.signal }), rejected]));
        } catch (error) {
          abort.abort();
          throw error;
        }
        return -1;
      } catch (error) {
        throw mapError(error);
      }
    },
    async *copyTo(text: string): AsyncIterable<Uint8Array> {
      let readable: Readable;
      try {
        await ensure();
        readable = await c.guard(c.sql.unsafe(text).readable());
      } catch (error) {
        throw mapError(error);
      }
      try {
        // pipe() does not carry errors: a COPY whose connection is destroyed (ended under a stalled
        // stream) errors its readable, which with no listener would be an uncaught exception.
        const out = coalesce();
        readable.on('error', (error) => out.destroy(error));
        const iterator = readable.pipe(out)[Symbol.asyncIterator]();
        for (;;) {
          const next = await c.guard(iterator.next());
          if (next.done) break;
          yield next.value as Uint8Array;
        }
      } catch (error) {
        throw mapError(error);
      }
    },
  };
}

/**
 * The first statement of a new client, with a hard deadline: postgres.js can wait forever for
 * a server that ends the connection during start-up (a database being dropped, a shutdown).
 */
async function firstContact(ops: ReturnType<typeof makeOps>, c: Client, location: PostgresLocation): Promise<void> {
  try {
    await ops.query('select 1');
  } catch (error) {
    await c.sql.end({ timeout: 0 }).catch(() => {});
    throw mapPostgresError(error, location.display);
  }
}

/** `work`, or CONNECT_TIMEOUT once the connect timeout (plus a margin) has passed. */
async function withDeadline<T>(work: Promise<T>, options: OpenOptions): Promise<T> {
  const seconds = options.connectTimeoutSeconds ?? 10;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'CONNECT_TIMEOUT' })), seconds * 1000 + 500);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A single-connection client: COPY streams get their own (postgres.js #499, #1173). */
async function dedicated(location: PostgresLocation, options: OpenOptions, live: Set<Client>): Promise<Session> {
  const c = client(location, options, true);
  const ops = makeOps(c, location.display);
  await firstContact(ops, c, location);
  live.add(c);
  return {
    ...ops,
    get backendPid() {
      return c.backendPid;
    },
    closed: c.closed,
    release: () => {
      live.delete(c);
      // A lost connection has nothing to finish: end at once rather than wait for stuck statements.
      return c.sql.end({ timeout: c.lost ? 0 : 5 });
    },
  };
}

/**
 * A postgres.js client of its own for LISTEN: postgres.js re-LISTENs after a dropped connection
 * (calling onListening again), and its session settings do not matter to a connection that only
 * waits for notifications.
 */
async function listen(location: PostgresLocation, options: OpenOptions, channel: string, handlers: ListenHandlers): Promise<Listener> {
  const target = socketTarget(location.url);
  const sql = postgres(target.url, { ...clientOptions(options), ...(target.path ? { path: target.path } : {}) });
  try {
    const request = await withDeadline(sql.listen(channel, (payload) => handlers.onNotify(payload), () => handlers.onListening?.()).then((r) => r), options);
    return {
      async close() {
        await request.unlisten().catch(() => {});
        await sql.end({ timeout: 1 }).catch(() => {});
      },
    };
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw mapPostgresError(error, location.display);
  }
}

export async function openPostgres(location: PostgresLocation, options: OpenOptions = {}): Promise<Database> {
  const c = client(location, options, false);
  const ops = makeOps(c, location.display);
  await firstContact(ops, c, location);
  // The sessions open now (their server processes are this Database's too).
  const live = new Set<Client>();
  // The server processes of the wire reader's connections (bulk COPY TO) open now.
  const wirePids = new Set<number>();
  const withSession = async <T>(fn: (s: Session) => Promise<T>): Promise<T> => {
    const s = await dedicated(location, options, live);
    try {
      return await fn(s);
    } finally {
      await s.release();
    }
  };
  return {
    ...ops,
    location,
    copyFrom: (text, data) => withSession((s) => s.copyFrom(text, data)),
    copyTo(text, copy = {}) {
      const wire = wireTarget(c.sql, options.connectTimeoutSeconds ?? 10);
      if (wire) {
        return wireCopyTo(wire, text, copy.snapshot, wirePids, (error) =>
          (error.established && CONNECTION_LOST.has(error.code) ? connectionLost(location.display, error) : mapPostgresError(error, location.display)));
      }
      return (async function* sessionCopyTo() {
        const s = await dedicated(location, options, live);
        try {
          if (copy.snapshot !== undefined) await s.exec(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${copy.snapshot.replace(/'/g, "''")}'`);
          yield* s.copyTo(text);
        } finally {
          await s.release();
        }
      })();
    },
    session: () => dedicated(location, options, live),
    backendPids: () => [...[c, ...live].map((x) => x.backendPid).filter((pid): pid is number => pid !== null), ...wirePids],
    transaction: (fn) => withSession((s) => inTransaction(s, fn)),
    listen: (channel, handlers) => listen(location, options, channel, handlers),
    close: () => c.sql.end({ timeout: 5 }),
  };
}
