import { CopyEngineError } from './errors.js';

/**
 * Passes COPY bytes through, counting them, and fails the copy if no byte arrives for
 * `stallMs` (a COPY stream can hang without an error: postgres.js #1173).
 */
export async function* watched(source: AsyncIterable<Uint8Array>, what: string, stallMs: number, onBytes: (n: number) => void): AsyncIterable<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CopyEngineError('COPY_STALLED', `No data for ${Math.round(stallMs / 1000)} s while copying ${what}: the connection looks stuck. Re-run to resume.`)), stallMs);
      });
      let next: IteratorResult<Uint8Array>;
      try {
        next = await Promise.race([iterator.next(), stalled]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      onBytes(next.value.length);
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}
