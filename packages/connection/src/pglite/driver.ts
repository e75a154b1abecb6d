import { existsSync, readdirSync, readFileSync, statSync, mkdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ConnectionError } from '../errors.js';
import type { Location } from '../location.js';
import { inTransaction } from '../transaction.js';
import type { Database, OpenOptions, Row, Session } from '../types.js';
import { NEWER_TIMEOUTS_OFF, PGLITE_CAPABILITIES, SESSION_SETTINGS } from '../types.js';
import { mapPgliteError } from './errors.js';
import type { WorkerError, WorkerReply, WorkerRequest } from './protocol.js';
import { acquireStoreLock, STORE_LOCK_FILE } from './store-lock.js';

type PgliteLocation = Extract<Location, { engine: 'pglite' }>;

/** The PostgreSQL major version new stores are created with (PGlite 0.5). */
export const PGLITE_PG_MAJOR = '18';

export const PGLITE_SUPPORTED_MAJORS = ['18', '17'];

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
  if (!PGLITE_SUPPORTED_MAJORS.includes(major)) {
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


const toBlobCopy = (sql: string, from: RegExp, to: string): string => {
  if (!from.test(sql)) throw new ConnectionError('COPY_FAILED', `Not a COPY statement this adapter can run: ${sql.slice(0, 80)}`);
  return sql.replace(from, to);
};

/**
 * shared_buffers of a store opened to be read through once. PGlite's own default (128 MB) lives
 * in this process's memory; a TID range scan (a migration's chunks) fills all of it, while a
 * read-through gains nothing from it (measured at 1M rows: peak RSS 551 -> 402 MB, same speed).
 */
const READ_THROUGH_SHARED_BUFFERS = '16MB';

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

// Under vitest this module runs from src/*.ts; the worker is always the compiled one.
const WORKER_URL = import.meta.url.endsWith('.ts') ? new URL('../../dist/pglite/worker.js', import.meta.url) : new URL('./worker.js', import.meta.url);

/**
 * The store's own thread (worker.ts) and the calls into it. The worker keeps the
 * process alive only while a call is in flight, as PGlite on the main thread would.
 */
function startWorker(display: string) {
  // None of the parent's node flags: some are refused in a worker (--input-type, -e), none are needed.
  const worker = new Worker(WORKER_URL, { execArgv: [] });
  worker.unref();
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void; onData?: (bytes: Uint8Array) => void }>();
  let nextId = 0;
  let stopped: ConnectionError | undefined;
  const ended = new AbortController();
  const stop = (error: ConnectionError) => {
    stopped ??= error;
    if (!ended.signal.aborted) ended.abort(stopped);
    for (const p of pending.values()) p.reject(stopped);
    pending.clear();
  };
  worker.on('message', (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    if ('data' in reply) {
      p.onData?.(reply.data);
      return;
    }
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if ('error' in reply) p.reject(mapPgliteError(reply.error, display));
    else p.resolve(reply.result);
  });
  worker.on('error', (error) => stop(new ConnectionError('CONNECTION_LOST', `PGlite stopped working on ${display}: ${String(error.message).split('\n')[0]}`, { cause: error })));
  worker.on('exit', (code) => stop(new ConnectionError('CONNECTION_LOST', `PGlite's thread for ${display} ended (exit code ${code}); re-open the store.`)));
  return {
    /** Aborted once the thread has stopped (reason: CONNECTION_LOST): nothing more will run. */
    closed: ended.signal,
    /** One request; `onData` receives the pieces a COPY export sends before its answer. */
    call<T>(request: Request, onData?: (bytes: Uint8Array) => void): Promise<T> {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(onData ? { onData } : {}) });
        worker.ref();
        worker.postMessage({ ...request, id });
      });
    },
    async terminate(): Promise<void> {
      stopped ??= new ConnectionError('CONNECTION_LOST', `The PGlite store ${display} is closed.`);
      if (!ended.signal.aborted) ended.abort(stopped);
      await worker.terminate();
    },
  };
}

export async function openPglite(location: PgliteLocation, options: OpenOptions = {}): Promise<Database> {
  // Checked before the lock (a wrong path fails at once, not after a wait) and again under it:
  // while this opener waited, the holder may have created or replaced the store.
  inspectStore(location, options.create ?? false);
  const lock = await acquireStoreLock(location.dir, options.storeLock);
  let major: string;
  try {
    major = inspectStore(location, options.create ?? false);
  } catch (error) {
    lock.release();
    throw error;
  }
  const display = location.display;
  const worker = startWorker(display);
  try {
    const settings = Object.entries(SESSION_SETTINGS).map(([k, v]) => `SET ${k} = '${v}';`).join(' ');
    await worker.call({
      op: 'open', dir: location.dir, major, setup: `${settings} ${NEWER_TIMEOUTS_OFF} SET application_name = '${(options.applicationName ?? 'mosaic').replace(/'/g, "''")}';`,
      ...(options.readThrough ? { sharedBuffers: READ_THROUGH_SHARED_BUFFERS } : {}),
    });
  } catch (error) {
    await worker.terminate();
    lock.release();
    const reason = error instanceof ConnectionError && error.cause ? (error.cause as WorkerError).message : String((error as Error).message ?? error);
    throw new ConnectionError('NOT_A_PGLITE_STORE', `PGlite could not open ${location.dir}: ${reason.split('\n')[0]}`, { cause: error });
  }
  const mutex = new Mutex();
  let closed = false;

  const ops = {
    engine: 'pglite' as const,
    capabilities: PGLITE_CAPABILITIES,
    query: <T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> => worker.call<T[]>({ op: 'query', text, params }),
    exec: (text: string): Promise<void> => worker.call<void>({ op: 'exec', text }),
    async copyFrom(text: string, data: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number> {
      // COPY FROM '/dev/blob' reads the whole blob first: callers send bounded chunks.
      const parts: Array<Uint8Array | string> = [];
      for await (const chunk of data) parts.push(chunk);
      return worker.call<number>({ op: 'copyFrom', text: toBlobCopy(text, /\bFROM\s+STDIN\b/i, "FROM '/dev/blob'"), parts });
    },
    async *copyTo(text: string): AsyncIterable<Uint8Array> {
      if (!/\bTO\s+STDOUT\b/i.test(text)) throw new ConnectionError('COPY_FAILED', `Not a COPY TO STDOUT statement: ${text.slice(0, 80)}`);
      // The pieces arrive while PGlite exports; they are handed on once the export succeeded.
      const pieces: Uint8Array[] = [];
      await worker.call({ op: 'copyTo', text }, (bytes) => pieces.push(bytes));
      yield* pieces;
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
      backendPid: null,
      closed: worker.closed,
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
    capabilities: PGLITE_CAPABILITIES,
    location,
    query: <T extends Row = Row>(text: string, params?: readonly unknown[]) => serialized(() => ops.query<T>(text, params))(),
    exec: serialized(ops.exec),
    copyFrom: serialized(ops.copyFrom),
    async *copyTo(text, options) {
      if (options?.snapshot !== undefined) throw new ConnectionError('COPY_FAILED', 'A PGlite store exports no snapshots: it is read whole while this process holds it.');
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
    backendPids: () => [],
    // One process, one session: no other client can NOTIFY this store.
    listen: async () => ({ close: async () => {} }),
    async transaction(fn) {
      const s = await session();
      try {
        return await inTransaction(s, fn);
      } finally {
        await s.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await worker.call({ op: 'close' });
      } finally {
        await worker.terminate();
        lock.release();
      }
    },
  };
}
