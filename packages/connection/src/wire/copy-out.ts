import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { md5Password, scramSha256 } from './auth.js';
import type { ScramClient } from './auth.js';

/**
 * `COPY ... TO STDOUT` over the PostgreSQL wire protocol on a socket of its own, for bulk reads.
 *
 * Why not postgres.js here: it hands out one Buffer per CopyData message (one per row), three
 * allocations and a stream push each; a migration of a million rows spent more CPU on that and on
 * collecting those Buffers than on anything else in this process. This reader walks the message
 * headers of each socket chunk and copies the payloads into 256 KB pieces: one copy, no object per
 * row. It speaks only what a COPY needs: start-up, the password exchanges (cleartext, MD5,
 * SCRAM-SHA-256), one simple Query holding the prelude statements and the COPY, and the answers
 * to those. TLS, several hosts and other start-up options stay with postgres.js (the driver
 * chooses, see WireTarget).
 */

/** Where and as whom to connect: what postgres.js resolved from the URL and the environment. */
export interface WireTarget {
  readonly host: string;
  readonly port: number;
  /** A Unix socket path instead of host and port. */
  readonly path?: string | undefined;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Start-up parameters (application_name, TimeZone, DateStyle). */
  readonly parameters: Readonly<Record<string, string>>;
  readonly connectTimeoutMs: number;
}

/** What went wrong, shaped as postgres.js shapes its errors (the driver maps both the same way). */
export interface WireError extends Error {
  code: string;
  detail?: string;
  hint?: string;
  severity?: string;
  schema_name?: string;
  table_name?: string;
  column_name?: string;
  constraint_name?: string;
  /** True once the server accepted the connection: a close after that is a lost connection. */
  established: boolean;
}

const PIECE = 256 * 1024;
/** Pieces held for a slow consumer before the socket is paused (TCP then slows the server). */
const AHEAD = 4;

function wireError(code: string, message: string, established: boolean, fields: Partial<WireError> = {}): WireError {
  return Object.assign(new Error(message), { code, established, ...fields }) as WireError;
}

/** ErrorResponse fields, named as postgres.js names them. */
function serverError(body: Buffer, established: boolean): WireError {
  const names: Record<string, keyof WireError> = { C: 'code', M: 'message', D: 'detail', H: 'hint', V: 'severity', s: 'schema_name', t: 'table_name', c: 'column_name', n: 'constraint_name' };
  const fields: Record<string, string> = {};
  for (let at = 0; at < body.length && body[at] !== 0;) {
    const end = body.indexOf(0, at + 1);
    const name = names[String.fromCharCode(body[at]!)];
    if (name) fields[name] = body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return wireError(fields['code'] ?? 'XX000', fields['message'] ?? 'the server reported an error', established, fields);
}

function message(type: string, ...parts: (string | Buffer)[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const out = Buffer.allocUnsafe(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const cstring = (text: string) => `${text}\0`;

function startupMessage(target: WireTarget): Buffer {
  const params = { user: target.user, database: target.database, ...target.parameters };
  const body = Buffer.from(Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join('') + '\0');
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(8 + body.length, 0);
  out.writeInt32BE(196608, 4); // protocol 3.0
  body.copy(out, 8);
  return out;
}

/**
 * The COPY's bytes as an async iterator whose return() ends the connection at once, even while a
 * next() waits (a stalled stream must not keep its socket). `onBackend` hears the server process
 * id as soon as the server tells it (BackendKeyData), so its statements can be found in
 * pg_stat_activity; `onEnd` hears that the connection is gone.
 */
export class WireCopyOut implements AsyncIterableIterator<Uint8Array> {
  readonly #socket: Socket;
  readonly #target: WireTarget;
  readonly #query: Buffer;
  readonly #onEnd: () => void;
  readonly #onBackend: (pid: number) => void;
  #phase: 'startup' | 'query' | 'copy' | 'after-copy' | 'done' = 'startup';
  #established = false;
  #scram: ScramClient | undefined;
  /** The start of a message that is not whole yet, its bytes so far, and how many it needs. */
  #pending: Buffer[] | undefined;
  #pendingBytes = 0;
  #pendingNeed = 0;
  #piece = Buffer.allocUnsafe(PIECE);
  #filled = 0;
  readonly #ready: Buffer[] = [];
  #error: WireError | undefined;
  #waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: unknown) => void } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #said = false;

  constructor(target: WireTarget, sql: string, hooks: { onBackend?: (pid: number) => void; onEnd?: () => void } = {}) {
    this.#target = target;
    this.#query = message('Q', cstring(sql));
    this.#onEnd = hooks.onEnd ?? (() => {});
    this.#onBackend = hooks.onBackend ?? (() => {});
    this.#socket = target.path ? connect({ path: target.path }) : connect({ host: target.host, port: target.port });
    this.#socket.setNoDelay(true);
    this.#timer = setTimeout(() => this.#fail(wireError('CONNECT_TIMEOUT', 'no answer within the connect timeout', false)), target.connectTimeoutMs);
    this.#socket.once('connect', () => this.#socket.write(startupMessage(target)));
    this.#socket.on('data', (chunk: Buffer) => {
      try {
        this.#data(chunk);
      } catch (error) {
        this.#fail(error as WireError);
      }
    });
    this.#socket.on('error', (error: NodeJS.ErrnoException) => this.#fail(wireError(error.code ?? 'ECONNRESET', error.message, this.#established)));
    this.#socket.on('close', () => {
      if (this.#phase !== 'done') this.#fail(wireError('CONNECTION_CLOSED', 'the server closed the connection', this.#established));
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const piece = this.#ready.shift();
    if (piece) {
      if (this.#paused && this.#ready.length < AHEAD) {
        this.#paused = false;
        this.#socket.resume();
      }
      return Promise.resolve({ done: false, value: piece });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#phase === 'done') return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Ends the connection (the server abandons the COPY when it goes). */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.#end();
    this.#settle();
    return Promise.resolve({ done: true, value: undefined });
  }

  #end(): void {
    clearTimeout(this.#timer);
    if (this.#phase !== 'done') {
      this.#phase = 'done';
      this.#ready.length = 0;
    }
    this.#socket.destroy();
    this.#ended();
  }

  /** Said once, as soon as the COPY is over whichever way: its server process is no longer ours. */
  #ended(): void {
    if (this.#said) return;
    this.#said = true;
    this.#onEnd();
  }

  #fail(error: WireError): void {
    if (this.#phase === 'done') return;
    this.#error ??= error;
    this.#end();
    this.#settle();
  }

  /** Wakes a waiting next(): with a piece, the error, or the end. */
  #settle(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    const piece = this.#ready.shift();
    if (piece) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: piece });
    } else if (this.#error) {
      this.#waiter = undefined;
      waiter.reject(this.#error);
    } else if (this.#phase === 'done') {
      this.#waiter = undefined;
      waiter.resolve({ done: true, value: undefined });
    }
  }

  #flushPiece(): void {
    if (this.#filled === 0) return;
    this.#ready.push(this.#piece.subarray(0, this.#filled));
    this.#piece = Buffer.allocUnsafe(PIECE);
    this.#filled = 0;
    if (this.#ready.length >= AHEAD && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #data(chunk: Buffer): void {
    // A message longer than a socket chunk (a big row) is gathered until it is whole, then joined once.
    if (this.#pending) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes < this.#pendingNeed) return;
    }
    const buf = this.#pending ? Buffer.concat(this.#pending, this.#pendingBytes) : chunk;
    this.#pending = undefined;
    let at = 0;
    const length = buf.length;
    while (length - at >= 5) {
      const type = buf[at]!;
      const size = buf.readInt32BE(at + 1);
      const end = at + 1 + size;
      if (end > length) break;
      if (type === 0x64 /* d: CopyData, the hot path */ && this.#phase === 'copy') {
        const n = size - 4;
        if (this.#filled + n > PIECE) this.#flushPiece();
        if (n > PIECE) this.#ready.push(Buffer.from(buf.subarray(at + 5, end)));
        else {
          buf.copy(this.#piece, this.#filled, at + 5, end);
          this.#filled += n;
        }
      } else {
        this.#message(type, buf.subarray(at + 5, end));
        if (this.#phase === 'done') return;
      }
      at = end;
    }
    if (at < length) {
      this.#pending = [buf.subarray(at)];
      this.#pendingBytes = length - at;
      this.#pendingNeed = length - at >= 5 ? 1 + buf.readInt32BE(at + 1) : 5;
    }
    this.#settle();
  }

  #message(type: number, body: Buffer): void {
    switch (String.fromCharCode(type)) {
      case 'R':
        return this.#authenticate(body);
      case 'K':
        return this.#onBackend(body.readInt32BE(0));
      case 'Z':
        if (this.#phase === 'startup') {
          clearTimeout(this.#timer);
          this.#established = true;
          this.#phase = 'query';
          this.#socket.write(this.#query);
        } else {
          this.#flushPiece();
          this.#phase = 'done';
          this.#socket.end(message('X'));
          clearTimeout(this.#timer);
          this.#ended();
          this.#settle();
        }
        return;
      case 'E':
        throw serverError(body, this.#established);
      case 'H':
        this.#phase = 'copy';
        return;
      case 'c':
        this.#phase = 'after-copy';
        return;
      case 'G':
        throw wireError('08P01', 'the server asked for COPY FROM data on a read', this.#established);
      default:
        // S ParameterStatus, N NoticeResponse, C CommandComplete, T/D rows of a prelude SELECT, I, A.
        return;
    }
  }

  #authenticate(body: Buffer): void {
    const kind = body.readInt32BE(0);
    const { user, password } = this.#target;
    switch (kind) {
      case 0:
        return;
      case 3:
        this.#socket.write(message('p', cstring(password)));
        return;
      case 5:
        this.#socket.write(message('p', cstring(md5Password(user, password, body.subarray(4, 8)))));
        return;
      case 10: {
        const mechanisms = body.toString('utf8', 4).split('\0');
        if (!mechanisms.includes('SCRAM-SHA-256')) throw wireError('AUTH_UNSUPPORTED', `the server offers only ${mechanisms.filter(Boolean).join(', ')}`, false);
        this.#scram = scramSha256(password);
        const data = Buffer.from(this.#scram.first);
        const length = Buffer.allocUnsafe(4);
        length.writeInt32BE(data.length, 0);
        this.#socket.write(message('p', cstring('SCRAM-SHA-256'), length, data));
        return;
      }
      case 11:
        this.#socket.write(message('p', this.#scram!.final(body.toString('utf8', 4))));
        return;
      case 12:
        this.#scram!.verify(body.toString('utf8', 4));
        return;
      default:
        throw wireError('AUTH_UNSUPPORTED', `the server asks for an authentication method this reader does not speak (${kind})`, false);
    }
  }
}
