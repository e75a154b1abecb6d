import { existsSync, readdirSync, readFileSync, statSync, mkdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { ConnectionError } from './errors.js';
import { lockStore, STORE_LOCK_FILE } from './store-lock.js';
import { identity, TEXT_OIDS } from './text-values.js';
import type { Location } from './location.js';
import type { Database, OpenOptions, Row, Session } from './types.js';
import { SESSION_SETTINGS } from './types.js';

type PgliteLocation = Extract<Location, { engine: 'pglite' }>;

/** The PostgreSQL major version new stores are created with (PGlite 0.5). */
export const PGLITE_PG_MAJOR = '18';

/**
 * The PGlite build that reads each PostgreSQL major: operators have stores written by
 * PGlite 0.3/0.4 (PostgreSQL 17), which 0.5 cannot open; an npm alias carries 0.4.
 */
const ENGINES: Record<string, () => Promise<{ create: (dir: string, options: object) => Promise<PGlite>; version: string }>> = {
  '18': async () => {
    const [{ PGlite: Engine }, { vector }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-pgvector')]);
    return { create: (dir, options) => Engine.create(dir, { ...options, extensions: { vector } }), version: '0.5' };
  },
  '17': async () => {
    const [{ PGlite: Engine }, { vector }] = await Promise.all([import('pglite-pg17'), import('pglite-pg17/vector')]);
    return { create: async (dir, options) => (await Engine.create(dir, { ...options, extensions: { vector } })) as unknown as PGlite, version: '0.4' };
  },
};

export const PGLITE_SUPPORTED_MAJORS = Object.keys(ENGINES);

const PARSERS = Object.fromEntries(TEXT_OIDS.map((oid) => [oid, identity]));

/** Checks the directory before PGlite touches it: PGlite itself would happily initdb anywhere. Returns the store's PostgreSQL major. */
function inspectStore(location: PgliteLocation, create: boolean): string {
  const { dir } = location;
  if (!existsSync(dir)) {
    if (!create) {
      throw new ConnectionError('STORE_NOT_FOUND', `PGlite store ${dir} does not exist: check the path, or create it with "mosaic storage init --url ${dir}".`);
    }
    mkdirSync(dir, { recursive: true });
    return PGLITE_PG_MAJOR;
  }
  if (!statSync(dir).isDirectory()) {
    throw new ConnectionError('NOT_A_DIRECTORY', `${dir} is a file, not a PGlite store directory: pass the store's directory.`);
  }
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new ConnectionError('STORE_UNREADABLE', `PGlite store ${dir} is not readable and writable by this user: fix its permissions.`, { cause: error });
  }
  const versionFile = join(dir, 'PG_VERSION');
  if (!existsSync(versionFile)) {
    const entries = readdirSync(dir).filter((f) => !f.startsWith(STORE_LOCK_FILE));
    if (entries.length === 0 && create) return PGLITE_PG_MAJOR;
    if (entries.length === 0) {
      throw new ConnectionError('STORE_NOT_FOUND', `${dir} is an empty directory, not a PGlite store: create one with "mosaic storage init --url ${dir}".`);
    }
    throw new ConnectionError('NOT_A_PGLITE_STORE', `${dir} is not a PGlite store (no PG_VERSION file): pass the store's data directory.`);
  }
  let major: string;
  try {
    major = readFileSync(versionFile, 'utf8').trim();
  } catch (error) {
    throw new ConnectionError('STORE_UNREADABLE', `PGlite store ${dir} is not readable by this user: fix its permissions.`, { cause: error });
  }
  if (!Object.hasOwn(ENGINES, major)) {
    throw new ConnectionError('STORE_INCOMPATIBLE', `PGlite store ${dir} holds PostgreSQL ${major} data; this tool reads PGlite stores of PostgreSQL ${PGLITE_SUPPORTED_MAJORS.join(' and ')}: upgrade the mosaic tool.`);
  }
  return major;
}

/** PGlite runs one query at a time on one session; a session() holds it for one caller. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return ready;
  }
}

function wrap(error: unknown, display: string): ConnectionError {
  if (error instanceof ConnectionError) return error;
  const e = error as { code?: string; message?: string; detail?: string; hint?: string };
  const sqlState = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  return new ConnectionError('QUERY_FAILED', `${sqlState ? `PostgreSQL error ${sqlState}` : 'PGlite error'} at ${display}: ${String(e.message ?? error).split('\n')[0]}`, {
    cause: error, ...(sqlState ? { sqlState } : {}), ...(e.detail ? { detail: e.detail } : {}), ...(e.hint ? { hint: e.hint } : {}),
  });
}

const toBlobCopy = (sql: string, from: RegExp, to: string): string => {
  if (!from.test(sql)) throw new ConnectionError('COPY_FAILED', `Not a COPY statement this adapter can run: ${sql.slice(0, 80)}`);
  return sql.replace(from, to);
};

export async function openPglite(location: PgliteLocation, options: OpenOptions = {}): Promise<Database> {
  const major = inspectStore(location, options.create ?? false);
  const lock = lockStore(location.dir);
  let pg: PGlite;
  try {
    const engine = await ENGINES[major]!();
    pg = await engine.create(location.dir, { parsers: PARSERS });
    const settings = Object.entries(SESSION_SETTINGS).map(([k, v]) => `SET ${k} = '${v}';`).join(' ');
    await pg.exec(`${settings} SET application_name = '${(options.applicationName ?? 'mosaic').replace(/'/g, "''")}';`);
  } catch (error) {
    lock.release();
    throw new ConnectionError('NOT_A_PGLITE_STORE', `PGlite could not open ${location.dir}: ${String((error as Error).message ?? error).split('\n')[0]}`, { cause: error });
  }
  const mutex = new Mutex();
  const display = location.display;

  const ops = {
    engine: 'pglite' as const,
    async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      try {
        return (await pg.query<T>(text, [...params])).rows;
      } catch (error) {
        throw wrap(error, display);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await pg.exec(text);
      } catch (error) {
        throw wrap(error, display);
      }
    },
    async copyFrom(text: string, data: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
      // COPY FROM '/dev/blob' reads the whole blob first: callers send bounded chunks.
      const parts: Array<Uint8Array | string> = [];
      for await (const chunk of data) parts.push(typeof chunk === 'string' ? chunk : new Uint8Array(chunk));
      try {
        const result = await pg.query(toBlobCopy(text, /\bFROM\s+STDIN\b/i, "FROM '/dev/blob'"), [], { blob: new Blob(parts) });
        return result.affectedRows ?? -1;
      } catch (error) {
        throw wrap(error, display);
      }
    },
    async *copyTo(text: string): AsyncIterable<Uint8Array> {
      let blob: Blob | undefined;
      try {
        blob = (await pg.query(toBlobCopy(text, /\bTO\s+STDOUT\b/i, "TO '/dev/blob'"))).blob;
      } catch (error) {
        throw wrap(error, display);
      }
      if (!blob) return;
      const bytes = new Uint8Array(await blob.arrayBuffer());
      for (let at = 0; at < bytes.length; at += 256 * 1024) yield bytes.subarray(at, at + 256 * 1024);
    },
  };

  // Every call from outside a session waits for the session holder, so a transaction
  // opened in a session never interleaves with other statements.
  const serialized = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    const release = await mutex.acquire();
    try {
      return await fn(...args);
    } finally {
      release();
    }
  };
  const session = async (): Promise<Session> => {
    const release = await mutex.acquire();
    let released = false;
    return {
      ...ops,
      release: async () => {
        if (!released) {
          released = true;
          release();
        }
      },
    };
  };

  return {
    engine: 'pglite',
    location,
    query: <T extends Row = Row>(text: string, params?: readonly unknown[]) => serialized(() => ops.query<T>(text, params))(),
    exec: serialized(ops.exec),
    copyFrom: serialized(ops.copyFrom),
    async *copyTo(text) {
      // PGlite hands over the whole COPY result at once: take it under the lock, then yield it
      // with the lock released, so a consumer that stops early can never keep the store locked.
      const release = await mutex.acquire();
      const chunks: Uint8Array[] = [];
      try {
        for await (const chunk of ops.copyTo(text)) chunks.push(chunk);
      } finally {
        release();
      }
      yield* chunks;
    },
    session,
    async transaction(fn) {
      const s = await session();
      try {
        await s.exec('BEGIN');
        try {
          const result = await fn(s);
          await s.exec('COMMIT');
          return result;
        } catch (error) {
          await s.exec('ROLLBACK').catch(() => {});
          throw error;
        }
      } finally {
        await s.release();
      }
    },
    async close() {
      try {
        if (!pg.closed) await pg.close();
      } finally {
        lock.release();
      }
    },
  };
}
