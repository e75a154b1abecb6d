/**
 * The messages between a PGlite store's thread (worker.ts) and the main thread (driver.ts): one
 * `open` request, then requests `{ id, op, ... }`, each answered by `{ id, result }` or
 * `{ id, error }`; a COPY export sends its bytes first, as `{ id, data }` pieces. Its own module,
 * so that neither side imports the other.
 */
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

export const ERROR_FIELDS = ['code', 'detail', 'hint', 'schema', 'table', 'column', 'constraint'] as const;

/** The answer to a request; a COPY export sends its bytes first, as `data` messages. */
export type WorkerReply =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: WorkerError }
  | { readonly id: number; readonly data: Uint8Array };

