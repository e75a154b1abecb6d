import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import { isMosaicError, openDatabase, redactText, redactUrl } from '@mosaic/connection';
import type { Database, Listener } from '@mosaic/connection';
import type { Tier } from '@mosaic/schema';
import { ackFreeze, deregisterGateway, FREEZE_CHANNEL, heartbeat, HEARTBEAT_EVERY_MS, registerGateway, storeState } from '@mosaic/write-freeze';
import type { GatewayView } from '@mosaic/write-freeze';
import { GatewayStartupError } from './errors.js';
import type { Cutover } from './jobs.js';
import { checkStore } from './startup.js';
import { configurationChange } from './store.js';
import type { StoreHandle } from './store.js';

export interface MembershipOptions {
  readonly cutover: Cutover;
  /**
   * The URL (with its password) of the store a live cutover switches to, for a gateway that did
   * not run the migration itself: the store state records the target only redacted.
   */
  readonly targetUrl?: string | undefined;
  readonly valkeyUrl?: string | undefined;
  /** How long a freeze waits for this gateway's writes in flight before it acknowledges. */
  readonly drainMs: number;
  readonly heartbeatMs?: number;
  /**
   * With no heartbeat answered for this long (a store that stopped answering: no error, just
   * silence), writes are refused until it answers. Default max(3 x heartbeatMs, 3 s): well within
   * the 15 s a freezer counts a silent gateway as live and waits for it.
   */
  readonly contactTimeoutMs?: number;
  readonly log: FastifyBaseLogger;
}

/** Freeze owners on the handle. */
const STORE = 'store';
const CONTACT = 'contact';

/**
 * The gateway's membership in its store (DESIGN 5.10, issue #16): registered at start, a
 * heartbeat that also reads the store state (the polling fallback), LISTEN on FREEZE_CHANNEL
 * where the store has other clients. On a freeze: refuse new writes, drain, acknowledge. Fail
 * closed: while the store cannot be reached the handle refuses writes. A retired store: writes
 * refused for good, or (cutover 'live', target URL known) the handle switches to the target.
 */
export class Membership {
  readonly #handle: StoreHandle;
  readonly #options: MembershipOptions;
  #gatewayId: string;
  #listener: Listener | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Checks run one at a time; a poke while one runs queues one more (at most one waits). */
  #running: Promise<void> = Promise.resolve();
  #pending: Promise<void> | undefined;
  #ackedFreezeId: string | null = null;
  #closed = false;
  #lastContact = Date.now();
  #watchdog: NodeJS.Timeout | undefined;
  /** The target URL a job of this gateway migrated to: only this gateway knows its password. */
  #knownTarget: string | undefined;
  /** This gateway's own job chose `cutover: 'live'`. */
  #liveByJob = false;
  /** Said once per retirement, not at every heartbeat. */
  #saidNoTarget = false;

  private constructor(handle: StoreHandle, options: MembershipOptions, gatewayId: string) {
    this.#handle = handle;
    this.#options = options;
    this.#gatewayId = gatewayId;
    this.#knownTarget = options.targetUrl;
  }

  get gatewayId(): string {
    return this.#gatewayId;
  }

  /** Registers in the store; a retired store refuses the start (STORE_MOVED, naming where it went). */
  static async join(handle: StoreHandle, options: MembershipOptions): Promise<Membership> {
    const view = await register(handle.database);
    const m = new Membership(handle, options, view.gatewayId);
    await m.#apply(view);
    await m.#listen();
    m.#schedule();
    m.#watch();
    return m;
  }

  /**
   * A job of this gateway retired the store, migrating to `url` (the password a live cutover
   * needs); `live`: the job's cutover was live, so this gateway switches whatever its own option.
   */
  knowTarget(url: string, live: boolean): void {
    this.#knownTarget = url;
    this.#liveByJob ||= live;
  }

  /** Looks at the store now (a NOTIFY, or this gateway's own job waiting for acknowledgements). */
  poke(): Promise<void> {
    if (this.#pending) return this.#pending;
    const next = this.#running.then(() => {
      this.#pending = undefined;
      return this.#check();
    });
    this.#pending = next;
    this.#running = next;
    return next;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    await this.#running.catch(() => {});
    await this.#listener?.close().catch(() => {});
    await deregisterGateway(this.#handle.database, this.#gatewayId).catch(() => {});
  }

  #schedule(): void {
    if (this.#closed) return;
    // Out of contact: look again sooner, the handle stays frozen until it can tell.
    const every = this.#handle.frozenBy.includes(CONTACT) ? 500 : (this.#options.heartbeatMs ?? HEARTBEAT_EVERY_MS);
    this.#timer = setTimeout(() => void this.poke().finally(() => this.#schedule()), every);
    this.#timer.unref();
  }

  /** Fail closed on silence: a heartbeat that neither answers nor fails (a store that stopped sending). */
  #watch(): void {
    const heartbeatMs = this.#options.heartbeatMs ?? HEARTBEAT_EVERY_MS;
    const limit = this.#options.contactTimeoutMs ?? Math.max(3 * heartbeatMs, 3000);
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastContact <= limit || this.#handle.frozenBy.includes(CONTACT)) return;
      this.#options.log.warn(`mosaic storage: the store has not answered a heartbeat for ${Math.round((Date.now() - this.#lastContact) / 1000)} s; writes refused until it does`);
      this.#handle.freeze(CONTACT);
    }, Math.min(500, limit));
    this.#watchdog.unref();
  }

  async #listen(): Promise<void> {
    const db = this.#handle.database;
    if (!db.capabilities.otherClients) return; // PGlite: nobody else can freeze it; the heartbeat reads the state anyway
    try {
      // Any notification, or a LISTEN re-established after a drop (one may have been missed): look now.
      this.#listener = await db.listen(FREEZE_CHANNEL, { onNotify: () => void this.poke(), onListening: () => void this.poke() });
    } catch (error) {
      this.#options.log.warn({ code: (error as { code?: unknown }).code }, 'mosaic storage: cannot LISTEN for freezes; polling the store state only');
    }
  }

  async #check(): Promise<void> {
    if (this.#closed) return;
    try {
      const view = await heartbeat(this.#handle.database, this.#gatewayId);
      this.#lastContact = Date.now();
      if (this.#handle.frozenBy.includes(CONTACT)) this.#options.log.info('mosaic storage: in contact with the store again');
      await this.#apply(view);
    } catch (error) {
      // Fail closed: it cannot tell whether a freeze began, so it takes no writes until it can.
      if (!this.#handle.frozenBy.includes(CONTACT)) this.#options.log.warn({ code: (error as { code?: unknown }).code }, 'mosaic storage: lost contact with the store; writes refused until it answers');
      this.#handle.freeze(CONTACT);
    }
  }

  async #apply(view: GatewayView): Promise<void> {
    const handle = this.#handle;
    if (view.state === 'frozen' && view.freezeId) {
      handle.freeze(STORE);
      handle.thaw(CONTACT);
      if (this.#ackedFreezeId === view.freezeId) return;
      if (!(await handle.drained(this.#options.drainMs))) {
        this.#options.log.warn({ inFlight: handle.inFlightWrites }, 'mosaic storage: writes still in flight at a freeze; not acknowledged yet');
        return;
      }
      await ackFreeze(handle.database, this.#gatewayId, view.freezeId);
      this.#ackedFreezeId = view.freezeId;
      this.#options.log.info({ freezeId: view.freezeId }, 'mosaic storage: store frozen for a migration; writes refused, freeze acknowledged');
      return;
    }
    if (view.state === 'retired') {
      handle.freeze(STORE);
      handle.thaw(CONTACT);
      if (!handle.moved) {
        const { retired } = await storeState(handle.database);
        if (retired) {
          handle.retire({ tier: retired.tier, location: retired.location, runId: retired.runId, cutover: retired.cutover });
          this.#options.log.warn(`mosaic storage: the store was retired: it moved to the ${retired.tier} tier at ${retired.location}; configuration change: ${configurationChange(retired).line}`);
        }
      }
      // Live when this gateway is configured so, when its own job chose it, or when the run that
      // retired the store chose it for every gateway (a job's `cutover: 'live'`).
      if (this.#options.cutover === 'live' || this.#liveByJob || handle.moved?.cutover === 'live') await this.cutover();
      return;
    }
    // Open: a lifted freeze, or an unfenced (rolled back) store.
    handle.thaw(CONTACT);
    handle.unretire();
    handle.thaw(STORE);
  }

  /**
   * Live cutover to where the store moved: only with a target URL whose redacted form is the one
   * the store recorded (the job's own, or the configured targetUrl). Opens and checks the target,
   * registers there, switches the handle, lets go of the old store. Returns whether it switched;
   * otherwise the handle keeps refusing writes (restart the gateway with the new configuration).
   */
  async cutover(): Promise<boolean> {
    const handle = this.#handle;
    const moved = handle.moved;
    if (!moved || this.#closed) return false;
    const url = this.#knownTarget;
    if (!url || redactUrl(url) !== moved.location) {
      if (this.#saidNoTarget) return false;
      this.#saidNoTarget = true;
      this.#options.log.warn(`mosaic storage: live cutover needs the target's URL (${moved.location}) with its password: configure targetUrl (MOSAIC_GATEWAY_TARGET_URL for the dev gateway), or restart with ${configurationChange(moved).line}`);
      return false;
    }
    let target: Database | undefined;
    try {
      target = await openDatabase(url, { applicationName: 'mosaic gateway' });
      await checkStore(target, moved.tier as Tier, this.#options.valkeyUrl);
      const view = await register(target);
      const oldDb = handle.database;
      const oldId = this.#gatewayId;
      await this.#listener?.close().catch(() => {});
      this.#listener = undefined;
      if (!(await handle.drained(this.#options.drainMs))) throw new Error('writes still in flight');
      handle.switchTo(target, moved.tier as Tier);
      this.#gatewayId = view.gatewayId;
      this.#ackedFreezeId = null;
      this.#lastContact = Date.now();
      await this.#listen();
      await this.#apply(view); // thaws: the target is open
      this.#options.log.info(`mosaic storage: live cutover: now serving the ${moved.tier} tier at ${moved.location}`);
      await deregisterGateway(oldDb, oldId).catch(() => {});
      await oldDb.close().catch(() => {});
      return true;
    } catch (error) {
      if (target && handle.database !== target) await target.close().catch(() => {});
      this.#options.log.error({ code: isMosaicError(error) ? error.code : undefined }, `mosaic storage: live cutover to ${moved.location} failed (${redactText((error as Error).message.split('\n')[0] ?? '')}); writes stay refused, retrying at the next heartbeat`);
      return false;
    }
  }
}

async function register(db: Database): Promise<GatewayView> {
  try {
    return await registerGateway(db, { host: hostname(), pid: process.pid });
  } catch (error) {
    if (isMosaicError(error) && error.code === 'STORE_RETIRED') {
      throw new GatewayStartupError('STORE_MOVED', `${error.message.replace(/Configure the gateway with the new store/, 'Configure the gateway with the new store (MOSAIC_GATEWAY_STORE / the plugin\'s store and tier options)')}`, { cause: error });
    }
    throw error;
  }
}
