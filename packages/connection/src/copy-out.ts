import type { WorkerError } from './pglite-worker.js';

/** A simple-protocol Query message ('Q', length, the statement, NUL). */
export function queryMessage(sql: string): Uint8Array {
  const body = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + body.length);
  message.write('Q', 0, 'latin1');
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

/** The fields of an ErrorResponse ('E'): C code, M message, D detail, H hint, s schema, t table, c column, n constraint. */
function parseError(body: Uint8Array): WorkerError {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const key = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    fields[key] = Buffer.from(body.subarray(at + 1, end)).toString('utf8');
    at = end + 1;
  }
  const named = { code: fields.C, detail: fields.D, hint: fields.H, schema: fields.s, table: fields.t, column: fields.c, constraint: fields.n };
  return { message: fields.M ?? 'COPY failed', ...Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined)) };
}

const PIECE = 256 * 1024;

/**
 * Turns the raw protocol output of `COPY ... TO STDOUT` (PGlite's execProtocolRawStream hands it
 * over in pieces that cut messages anywhere) into the COPY bytes, in pieces of about 256 KB
 * given to `emit` as they fill: the export never sits in memory whole (a `/dev/blob` export is
 * held three times over before the caller sees a byte). An ErrorResponse is kept for end().
 */
export class CopyOutCollector {
  #carry: Uint8Array = new Uint8Array(0);
  #piece = new Uint8Array(PIECE);
  #filled = 0;
  #error: WorkerError | undefined;

  constructor(private readonly emit: (bytes: Uint8Array) => void) {}

  /** Raw protocol bytes; `raw` may be a view of memory that is reused after this call. */
  push(raw: Uint8Array): void {
    let data = raw;
    if (this.#carry.length > 0) {
      data = new Uint8Array(this.#carry.length + raw.length);
      data.set(this.#carry);
      data.set(raw, this.#carry.length);
    }
    let at = 0;
    while (data.length - at >= 5) {
      const length = ((data[at + 1]! << 24) | (data[at + 2]! << 16) | (data[at + 3]! << 8) | data[at + 4]!) >>> 0;
      if (data.length - at < 1 + length) break;
      const type = data[at];
      const body = data.subarray(at + 5, at + 1 + length);
      if (type === 0x64) this.#data(body); // 'd' CopyData
      else if (type === 0x45) this.#error ??= parseError(body); // 'E' ErrorResponse
      at += 1 + length;
    }
    this.#carry = data.slice(at);
  }

  #data(bytes: Uint8Array): void {
    if (this.#filled + bytes.length > PIECE) this.#flush();
    if (bytes.length > PIECE) {
      this.emit(bytes.slice());
      return;
    }
    this.#piece.set(bytes, this.#filled);
    this.#filled += bytes.length;
  }

  #flush(): void {
    if (this.#filled === 0) return;
    this.emit(this.#piece.slice(0, this.#filled));
    this.#filled = 0;
  }

  /** Emits what is left; returns the server's error, if it sent one. */
  end(): WorkerError | undefined {
    this.#flush();
    if (!this.#error && this.#carry.length > 0) return { message: 'the COPY output ended in the middle of a protocol message' };
    return this.#error;
  }
}
