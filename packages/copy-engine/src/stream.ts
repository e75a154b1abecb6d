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
 * Counts the tuples of a binary COPY stream as its bytes pass, however they are cut: PostgreSQL's
 * format is an 11-byte signature, int32 flags, int32 extension length and the extension, then per
 * tuple an int16 field count (-1 ends the data) and per field an int32 length (-1 for NULL) and
 * that many bytes. It walks the lengths only, so 50k rows cost a few milliseconds.
 */
export class BinaryCopyCounter {
  private count = 0;
  private seen = false;
  private ended = false;
  /** Bytes to pass over before the next integer (the signature and flags first). */
  private skip = 11 + 4;
  /** The integer read next: the extension's length, a tuple's field count, a field's length. */
  private next: 'extension' | 'fields' | 'length' = 'extension';
  private value = 0;
  private valueBytes = 0;
  private fieldsLeft = 0;

  push(part: Uint8Array): void {
    if (part.length > 0) this.seen = true;
    const length = part.length;
    let at = 0;
    while (at < length && !this.ended) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, length - at);
        at += step;
        this.skip -= step;
        continue;
      }
      const size = this.next === 'fields' ? 2 : 4;
      let value: number;
      if (this.valueBytes === 0 && at + size <= length) {
        // The whole integer is in this piece (nearly always): read it at once.
        value = size === 2 ? ((part[at]! << 24) | (part[at + 1]! << 16)) >> 16 : (part[at]! << 24) | (part[at + 1]! << 16) | (part[at + 2]! << 8) | part[at + 3]!;
        at += size;
      } else {
        // An integer cut between two pieces: byte by byte.
        this.value = this.value * 256 + part[at++]!;
        if (++this.valueBytes < size) continue;
        value = size === 2 ? (this.value << 16) >> 16 : this.value | 0;
        this.value = 0;
        this.valueBytes = 0;
      }
      this.take(value);
    }
  }

  /** One integer of the stream read: what it means depends on where the stream is. */
  private take(value: number): void {
    if (this.next === 'extension') {
      this.skip = value;
      this.next = 'fields';
    } else if (this.next === 'fields') {
      if (value === -1) this.ended = true;
      else if (value === 0) this.count++;
      else {
        this.fieldsLeft = value;
        this.next = 'length';
      }
    } else {
      if (value > 0) this.skip = value;
      if (--this.fieldsLeft === 0) {
        this.count++;
        this.next = 'fields';
      }
    }
  }

  /** The tuples of the whole stream (0 for no bytes at all); throws when it stopped in the middle of a row. */
  end(): number {
    if (!this.seen) return 0;
    if (!this.ended) throw new CopyEngineError('COPY_MISMATCH', 'A binary COPY chunk from the source ends in the middle of a row.');
    return this.count;
  }
}

/** Tuples in a binary COPY stream held in memory (see BinaryCopyCounter). */
export function binaryCopyTuples(parts: readonly Uint8Array[]): number {
  const counter = new BinaryCopyCounter();
  for (const part of parts) counter.push(part);
  return counter.end();
}

/** Passes `data` on, counting its tuples into `counter` as it goes. */
export async function* countingTuples(data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, counter: BinaryCopyCounter): AsyncIterable<Uint8Array> {
  for await (const part of data) {
    counter.push(part);
    yield part;
  }
}
