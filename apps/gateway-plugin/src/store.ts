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
  /** The store's tier, as detected at start-up (or of the store a live cutover switched to). */
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

/** Where a retired store moved (redacted), and the configuration change that follows it. */
export interface Moved {
  readonly tier: string;
  readonly location: string;
  readonly runId: string;
  /** The retiring run asked every gateway to switch live (RetiredInfo.cutover). */
  readonly cutover?: 'live' | 'restart' | null;
}

/** The settings a gateway changes to follow a retired store: its own names (the dev gateway's env, the plugin's options). */
export function configurationChange(moved: { tier: string; location: string }): { MOSAIC_GATEWAY_STORE: string; tier: string; line: string } {
  return {
    MOSAIC_GATEWAY_STORE: moved.location,
    tier: moved.tier,
    // The location is redacted: say to put the password back only where there was one.
    line: `MOSAIC_GATEWAY_STORE=${moved.location} (plugin options: store = that URL, tier = '${moved.tier}'${moved.location.includes(':***@') ? '; put the password back' : ''})`,
  };
}

const FROZEN_SQLSTATE = 'MOSFZ';
const RETIRED_SQLSTATE = 'MOSRT';

/**
 * The plugin's side of the handle: freezing writes and waiting for in-flight ones. Several
 * owners may hold a freeze at once (a job of this gateway, the store's own freeze, lost contact
 * with the store); writes flow again only when none does. A retired store refuses for good,
 * until the handle is switched to the store it moved to (live cutover) or the store is unfenced.
 */
export class StoreHandle implements MosaicStore {
  #db: Database;
  #tier: Tier;
  readonly #retryAfterSeconds: number;
  readonly #frozenBy = new Set<string>();
  #moved: Moved | null = null;
  #inFlight = 0;
  #idle: Array<() => void> = [];

  constructor(db: Database, tier: Tier, retryAfterSeconds: number) {
    this.#db = db;
    this.#tier = tier;
    this.#retryAfterSeconds = retryAfterSeconds;
  }

  /** The store the handle points at now (the plugin's own routes, jobs and membership). */
  get database(): Database {
    return this.#db;
  }

  get tier(): Tier {
    return this.#tier;
  }

  get location(): string {
    return this.#db.location.display;
  }

  get engine(): Engine {
    return this.#db.engine;
  }

  get frozen(): boolean {
    return this.#frozenBy.size > 0 || this.#moved !== null;
  }

  /** Who holds the freeze (job ids, `store`, `contact`), for the status page. */
  get frozenBy(): readonly string[] {
    return [...this.#frozenBy];
  }

  /** Set when the store was retired and the handle still points at it. */
  get moved(): Moved | null {
    return this.#moved;
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
    if (this.frozen) throw this.refusal();
    const db = this.#db;
    this.#inFlight += 1;
    try {
      return await fn({ query: (text, params) => db.query(text, params), transaction: (f) => db.transaction(f) });
    } catch (error) {
      // The store's own triggers refused it (the freeze committed before this gateway heard of it):
      // the same answer as a refusal here, so clients retry instead of seeing a 500.
      const state = (error as { sqlState?: unknown })?.sqlState;
      if (state === FROZEN_SQLSTATE || state === RETIRED_SQLSTATE) throw this.refusal(state === RETIRED_SQLSTATE);
      throw error;
    } finally {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** Refuses new writes from now on, for `owner` (idempotent). */
  freeze(owner: string): void {
    this.#frozenBy.add(owner);
  }

  /** Lifts `owner`'s freeze (a no-op if it holds none); writes flow when no owner is left. */
  thaw(owner: string): void {
    this.#frozenBy.delete(owner);
  }

  /** The store was retired: writes are refused for good, naming where it moved. */
  retire(moved: Moved): void {
    this.#moved = moved;
  }

  /** The store was unfenced (a rollback): it is the live store again. */
  unretire(): void {
    this.#moved = null;
  }

  /**
   * Live cutover: points the handle at `db` (the verified target) and returns the old store for
   * the caller to close. Only while frozen with nothing in flight (the caller drained first).
   */
  switchTo(db: Database, tier: Tier): Database {
    const old = this.#db;
    this.#db = db;
    this.#tier = tier;
    this.#moved = null;
    return old;
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

  /** The error a write gets while refused: Fastify's default handler answers 503 with these headers. */
  refusal(retired = false): GatewayWriteError {
    const seconds = this.#retryAfterSeconds;
    const headers = { 'retry-after': String(seconds) };
    const moved = this.#moved;
    if (moved || retired) {
      const where = moved ? `it moved to the ${moved.tier} tier at ${moved.location} (migration run ${moved.runId}); this gateway serves writes again once restarted with ${configurationChange(moved).line}` : 'it moved to a new store';
      return new GatewayWriteError('WRITES_RETIRED', `This gateway's store ${this.location} is retired, ${where}. Retry after ${seconds} s.`, { statusCode: 503, headers });
    }
    return new GatewayWriteError('WRITES_FROZEN', `A storage migration is running: writes are paused. Retry after ${seconds} s.`, { statusCode: 503, headers });
  }
}
