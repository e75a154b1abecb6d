import { CopyEngineError } from './errors.js';

/**
 * Passes COPY bytes through, counting them, and fails the copy if no byte arrives for
 * `stallMs` (a COPY stream can hang without an error: postgres.js #1173), or at once when
 * `signal` aborts. `onFail` hears that failure first: the COPY the stream feeds then fails too,
 * in the target's words ("COPY from stdin failed"), and the caller reports the cause instead.
 */
export async function* watched(
  source: AsyncIterable<Uint8Array>, what: string, stallMs: number, onBytes: (n: number) => void, signal?: AbortSignal, onFail?: (error: unknown) => void,
): AsyncIterable<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  // Set when we stop waiting for a next() that has not settled (a stall, the run stopped).
  let stuck = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CopyEngineError('COPY_STALLED', `No data for ${Math.round(stallMs / 1000)} s while copying ${what}: the connection looks stuck. Re-run to resume.`)), stallMs);
        // The run was stopped (its lock lost): the stream ends now, not at the end of the chunk.
        onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      let next: IteratorResult<Uint8Array>;
      const pending = iterator.next();
      try {
        next = await Promise.race([pending, stalled]);
      } catch (error) {
        stuck = true;
        pending.catch(() => {}); // it rejects once the caller ends the connection under it
        onFail?.(error);
        throw error;
      } finally {
        clearTimeout(timer);
        if (onAbort) signal?.removeEventListener('abort', onAbort);
      }
      if (next.done) return;
      onBytes(next.value.length);
      yield next.value;
    }
  } finally {
    // A source stuck in an await cannot take return() until that settles (an async generator
    // queues it), which a stalled COPY never does: leave it to end with its connection, which
    // the caller releases next, instead of waiting here forever and hiding the error.
    if (stuck) void iterator.return?.()?.catch(() => {});
    else await iterator.return?.();
  }
}

/**
 * Tuples in a binary COPY stream held in memory: PostgreSQL's format is an 11-byte signature,
 * int32 flags, int32 extension length and the extension, then per tuple an int16 field count
 * (-1 ends the data) and per field an int32 length (-1 for NULL) and that many bytes.
 * It walks the lengths only, so a chunk of 50k rows costs a few milliseconds.
 */
export function binaryCopyTuples(parts: readonly Uint8Array[]): number {
  let part = 0;
  let at = 0;
  const byte = (): number => {
    while (part < parts.length && at >= parts[part]!.length) {
      part++;
      at = 0;
    }
    if (part >= parts.length) throw new CopyEngineError('COPY_MISMATCH', 'A binary COPY chunk from the source ends in the middle of a row.');
    return parts[part]![at++]!;
  };
  const int = (bytes: 2 | 4): number => {
    let value = 0;
    for (let i = 0; i < bytes; i++) value = value * 256 + byte();
    return bytes === 2 ? (value << 16) >> 16 : value | 0;
  };
  const skip = (n: number) => {
    let left = n;
    while (left > 0) {
      while (part < parts.length && at >= parts[part]!.length) {
        part++;
        at = 0;
      }
      if (part >= parts.length) throw new CopyEngineError('COPY_MISMATCH', 'A binary COPY chunk from the source ends in the middle of a row.');
      const step = Math.min(left, parts[part]!.length - at);
      at += step;
      left -= step;
    }
  };
  if (parts.every((p) => p.length === 0)) return 0;
  skip(11 + 4);
  skip(int(4));
  let tuples = 0;
  for (;;) {
    const fields = int(2);
    if (fields === -1) return tuples;
    for (let f = 0; f < fields; f++) {
      const length = int(4);
      if (length > 0) skip(length);
    }
    tuples++;
  }
}
