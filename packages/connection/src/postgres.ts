import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { mapPostgresError } from './postgres-errors.js';
import { identity, TEXT_OIDS } from './text-values.js';
import type { Location } from './location.js';
import type { Database, OpenOptions, Row, Session } from './types.js';
import { SESSION_SETTINGS } from './types.js';

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

function client(location: PostgresLocation, options: OpenOptions, max: number): Sql {
  const target = socketTarget(location.url);
  return postgres(target.url, { ...clientOptions(options, max), ...(target.path ? { path: target.path } : {}) });
}

function clientOptions(options: OpenOptions, max: number): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    max,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: 0,
    // Unnamed statements: they also work through a transaction-mode pooler, which the
    // advisory lock must be able to detect (and refuse) rather than fail obscurely.
    prepare: false,
    onnotice: () => {},
    // Sent in the startup packet: every backend starts with these, before any query.
    connection: { application_name: options.applicationName ?? 'mosaic', ...SESSION_SETTINGS } as unknown as postgres.Options<never>['connection'],
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

function makeOps(sql: Sql, display: string) {
  return {
    engine: 'postgres' as const,
    async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      try {
        const rows = await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
        return [...rows] as unknown as T[];
      } catch (error) {
        throw mapPostgresError(error, display);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await sql.unsafe(text).simple();
      } catch (error) {
        throw mapPostgresError(error, display);
      }
    },
    async copyFrom(text: string, data: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
      try {
        const writable = await sql.unsafe(text).writable();
        await pipeline(Readable.from(data, { objectMode: true }), coalesce(), writable);
        return -1;
      } catch (error) {
        throw mapPostgresError(error, display);
      }
    },
    async *copyTo(text: string): AsyncIterable<Uint8Array> {
      let readable: Readable;
      try {
        readable = await sql.unsafe(text).readable();
      } catch (error) {
        throw mapPostgresError(error, display);
      }
      try {
        for await (const chunk of readable.pipe(coalesce())) yield chunk as Uint8Array;
      } catch (error) {
        throw mapPostgresError(error, display);
      }
    },
  };
}

/** A single-connection client: COPY streams get their own (postgres.js #499, #1173). */
async function dedicated(location: PostgresLocation, options: OpenOptions): Promise<Session> {
  const sql = client(location, options, 1);
  const ops = makeOps(sql, location.display);
  try {
    await ops.query('select 1');
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw error;
  }
  return { ...ops, release: () => sql.end({ timeout: 5 }) };
}

export async function openPostgres(location: PostgresLocation, options: OpenOptions = {}): Promise<Database> {
  const sql = client(location, options, options.maxConnections ?? 4);
  const ops = makeOps(sql, location.display);
  try {
    await ops.query('select 1');
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw error;
  }
  const withSession = async <T>(fn: (s: Session) => Promise<T>): Promise<T> => {
    const s = await dedicated(location, options);
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
    async *copyTo(text) {
      const s = await dedicated(location, options);
      try {
        yield* s.copyTo(text);
      } finally {
        await s.release();
      }
    },
    session: () => dedicated(location, options),
    transaction: (fn) => withSession(async (s) => {
      await s.exec('BEGIN');
      try {
        const result = await fn(s);
        await s.exec('COMMIT');
        return result;
      } catch (error) {
        await s.exec('ROLLBACK').catch(() => {});
        throw error;
      }
    }),
    close: () => sql.end({ timeout: 5 }),
  };
}
