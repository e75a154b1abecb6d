/**
 * The thread a PGlite store runs in. PGlite executes every statement synchronously on the
 * thread that owns it; on the main thread a 50k-row COPY export (about half a second) would
 * stop the event loop from feeding the target's socket. Here it runs beside the main thread,
 * so a migration reads the next chunk while the target ingests this one.
 *
 * Protocol (see pglite.ts): one `open` message, then requests `{ id, op, ... }`, each answered
 * by `{ id, result }` or `{ id, error }`. Requests arrive one at a time (the main thread's
 * mutex serialises them); a COPY export streams its bytes back first as `{ id, data }` pieces
 * (transferred, not copied).
 */
import { parentPort } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { CopyOutCollector, queryMessage } from './copy-out.js';
import { identity, TEXT_OIDS } from './text-values.js';

export type WorkerRequest =
  | { readonly id: number; readonly op: 'open'; readonly dir: string; readonly major: string; readonly setup: string; readonly sharedBuffers?: string }
  | { readonly id: number; readonly op: 'query'; readonly text: string; readonly params: readonly unknown[] }
  | { readonly id: number; readonly op: 'exec'; readonly text: string }
  | { readonly id: number; readonly op: 'copyFrom'; readonly text: string; readonly parts: ReadonlyArray<Uint8Array | string> }
  | { readonly id: number; readonly op: 'copyTo'; readonly text: string }
  | { readonly id: number; readonly op: 'close' };

/** What a PGlite error carried, in a form that crosses threads (an Error loses its own fields). */
export interface WorkerError {
  readonly message: string;
  readonly code?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;
}

const ERROR_FIELDS = ['code', 'detail', 'hint', 'schema', 'table', 'column', 'constraint'] as const;

/** The answer to a request; a COPY export sends its bytes first, as `data` messages. */
export type WorkerReply =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: WorkerError }
  | { readonly id: number; readonly data: Uint8Array };

/**
 * The PGlite build that reads each PostgreSQL major: operators have stores written by
 * PGlite 0.3/0.4 (PostgreSQL 17), which 0.5 cannot open; an npm alias carries 0.4.
 */
const ENGINES: Record<string, () => Promise<{ create: (dir: string, options: object) => Promise<PGlite>; startParams: readonly string[] }>> = {
  '18': async () => {
    const [{ PGlite: Engine }, { vector }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-pgvector')]);
    return { create: (dir, options) => Engine.create(dir, { ...options, extensions: { vector } }), startParams: Engine.defaultStartParams };
  },
  '17': async () => {
    const [{ PGlite: Engine }, { vector }] = await Promise.all([import('pglite-pg17'), import('pglite-pg17/vector')]);
    return {
      create: async (dir, options) => (await Engine.create(dir, { ...options, extensions: { vector } })) as unknown as PGlite,
      startParams: (Engine as unknown as { defaultStartParams: string[] }).defaultStartParams,
    };
  },
};

const PARSERS = Object.fromEntries(TEXT_OIDS.map((oid) => [oid, identity]));

const port = parentPort;
if (!port) throw new Error('pglite-worker.js runs as a worker thread (see pglite.ts)');

let pg: PGlite | undefined;

/**
 * Test-only, never set in production: with MOSAIC_TEST_PGLITE_EXIT_ON set (in the environment
 * the thread starts with) to a statement, a `query` of exactly that text ends this thread
 * unanswered, as a crash of PGlite's thread would. No statement reliably kills a PGlite thread:
 * PostgreSQL refuses allocations past 1 GB and a failed WASM allocation comes back as an error,
 * so the tests of what the main thread does when its store's thread dies need this door.
 */
const EXIT_ON = process.env.MOSAIC_TEST_PGLITE_EXIT_ON;

function open(): PGlite {
  if (!pg) throw new Error('the store is not open');
  return pg;
}

async function handle(request: WorkerRequest): Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  switch (request.op) {
    case 'open': {
      const engine = await ENGINES[request.major]!();
      const startParams = request.sharedBuffers ? [...engine.startParams, '-c', `shared_buffers=${request.sharedBuffers}`] : undefined;
      pg = await engine.create(request.dir, { parsers: PARSERS, ...(startParams ? { startParams } : {}) });
      await pg.exec(request.setup);
      return { result: null };
    }
    case 'query':
      if (EXIT_ON !== undefined && EXIT_ON !== '' && request.text === EXIT_ON) process.exit(70);
      return { result: (await open().query(request.text, [...request.params])).rows };
    case 'exec':
      await open().exec(request.text);
      return { result: null };
    case 'copyFrom': {
      const result = await open().query(request.text, [], { blob: new Blob(request.parts as Array<Uint8Array | string>) });
      return { result: result.affectedRows ?? -1 };
    }
    case 'copyTo': {
      // COPY TO STDOUT over the wire protocol, streamed: each piece goes to the main thread as
      // it fills (transferred, not copied), while PGlite goes on producing the next.
      const out = new CopyOutCollector((bytes) => port!.postMessage({ id: request.id, data: bytes } satisfies WorkerReply, [bytes.buffer as ArrayBuffer]));
      await open().execProtocolRawStream(queryMessage(request.text), { onRawData: (raw) => out.push(raw) });
      const error = out.end();
      if (error) throw Object.assign(new Error(error.message), error);
      return { result: null };
    }
    case 'close':
      if (pg && !pg.closed) await pg.close();
      return { result: null };
  }
}

port.on('message', (request: WorkerRequest) => {
  handle(request).then(
    ({ result, transfer }) => port.postMessage({ id: request.id, result } satisfies WorkerReply, transfer ?? []),
    (error: unknown) => {
      const e = (error ?? {}) as Record<string, unknown>;
      const reply: WorkerError = {
        message: String(e.message ?? error),
        ...Object.fromEntries(ERROR_FIELDS.filter((f) => typeof e[f] === 'string').map((f) => [f, e[f]])),
      };
      port.postMessage({ id: request.id, error: reply } satisfies WorkerReply);
    },
  );
});
