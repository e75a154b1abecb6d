import type { Database, Engine, Row, Session } from '@mosaic/connection';
import type { Tier } from '@mosaic/schema';
import { GatewayWriteError } from './errors.js';

/** What a write runs against: the store the handle points at when the write starts. */
export interface StoreWriter {
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** BEGIN ... COMMIT on a session of its own; ROLLBACK when `fn` throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
}

/**
 * `app.mosaicStore`: the app's one handle to its store. Reads may use `query`/`transaction`
 * directly; every write goes through `write(fn)`, so the plugin can refuse writes during a
 * migration's freeze and wait for the ones already running before the migration's snapshot.
 *
 * The handle never hands out its Database: each call resolves the current one, so a later
 * change can point it at another store (live cutover: freeze, drain, switch, thaw) without
 * the app holding on to the old connection. `fn` must use the writer it is given, not a
 * Database it kept from elsewhere.
 */
export interface MosaicStore extends StoreWriter {
  /** Where the store is, password redacted. */
  readonly location: string;
  readonly engine: Engine;
  /** The store's tier, as detected at start-up. */
  readonly tier: Tier;
  /** True while writes are refused (a migration's freeze). */
  readonly frozen: boolean;
  /** Writes that entered `write()` and have not settled yet. */
  readonly inFlightWrites: number;
  /**
   * Runs a write. Refused at once with GatewayWriteError `WRITES_FROZEN` (HTTP 503 with
   * Retry-After through Fastify's error handler) while frozen; otherwise counted as in flight
   * until `fn` settles. Acknowledge the write to the client only after this resolves.
   */
  write<T>(fn: (db: StoreWriter) => Promise<T>): Promise<T>;
}

/**
 * The plugin's side of the handle: freezing writes and waiting for in-flight ones. A freeze is
 * held by an owner (a job id); thaw(owner) lifts only that owner's freeze.
 */
export class StoreHandle implements MosaicStore {
  #db: Database;
  readonly tier: Tier;
  readonly #retryAfterSeconds: number;
  #frozenBy: string | null = null;
  #inFlight = 0;
  #idle: Array<() => void> = [];

  constructor(db: Database, tier: Tier, retryAfterSeconds: number) {
    this.#db = db;
    this.tier = tier;
    this.#retryAfterSeconds = retryAfterSeconds;
  }

  get location(): string {
    return this.#db.location.display;
  }

  get engine(): Engine {
    return this.#db.engine;
  }

  get frozen(): boolean {
    return this.#frozenBy !== null;
  }

  get inFlightWrites(): number {
    return this.#inFlight;
  }

  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#db.query<T>(text, params);
  }

  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
    return this.#db.transaction(fn);
  }

  async write<T>(fn: (db: StoreWriter) => Promise<T>): Promise<T> {
    if (this.#frozenBy !== null) throw this.#refusal();
    const db = this.#db;
    this.#inFlight += 1;
    try {
      return await fn({ query: (text, params) => db.query(text, params), transaction: (f) => db.transaction(f) });
    } finally {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** Refuses new writes from now on, for `owner`. False when another owner already holds a freeze. */
  freeze(owner: string): boolean {
    if (this.#frozenBy !== null && this.#frozenBy !== owner) return false;
    this.#frozenBy = owner;
    return true;
  }

  /** Lifts `owner`'s freeze (a no-op if it holds none). */
  thaw(owner: string): void {
    if (this.#frozenBy === owner) this.#frozenBy = null;
  }

  /**
   * Resolves true once no write is in flight, false after `timeoutMs` or when `signal` aborts.
   * Call after freeze(): nothing new enters, so the count only goes down.
   */
  async drained(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#inFlight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#idle = this.#idle.filter((r) => r !== onIdle);
        resolve(ok);
      };
      const onIdle = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#idle.push(onIdle);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The error a write gets while frozen: Fastify's default handler answers 503 with these headers. */
  #refusal(): GatewayWriteError {
    const seconds = this.#retryAfterSeconds;
    return new GatewayWriteError('WRITES_FROZEN', `A storage migration is running: writes are paused. Retry after ${seconds} s.`, { statusCode: 503, headers: { 'retry-after': String(seconds) } });
  }
}
