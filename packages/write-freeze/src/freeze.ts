import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database, Location } from '@mosaic/connection';
import { isMosaicError } from '@mosaic/connection';
import { acquireAdvisoryLock, describeHolder, readHolder } from '@mosaic/advisory-lock';
import type { HeldLock } from '@mosaic/advisory-lock';
import { WriteFreezeError } from './errors.js';
import { DEFAULT_LIVE_WITHIN_MS, describeGateway, listGateways } from './gateways.js';
import type { GatewayInfo } from './gateways.js';
import { dropFreezeTriggers, liftTriggers } from './lift.js';
import { DEADLOCK, describeTableBlockers, LOCK_NOT_AVAILABLE, lockDataTables, sqlStateOf } from './locks.js';
import { createTriggerSql, FREEZE_CHANNEL, REFUSE_FUNCTION_SQL } from './sql.js';
import { ensureFreezeSchema, FREEZE_HOLDER_KEY, freezeOf, heldHere, readStateRow, retiredOf, triggerStates } from './state.js';
import type { FreezeInfo, RetiredInfo } from './state.js';

export interface FreezeOptions {
  /** The migration run that freezes (shown in refused writes, status and the state row). */
  readonly runId: string;
  /** Who freezes, for operators: default `<host> pid <pid>`. */
  readonly by?: string;
  /** Bound on waiting for write transactions in flight to end (the trigger locks). Default 30 s. */
  readonly lockTimeoutMs?: number;
  /** Bound on waiting for every live gateway to acknowledge. Default 30 s. */
  readonly ackTimeoutMs?: number;
  /** A gateway is live when its heartbeat is at most this old. Default 15 s. */
  readonly liveWithinMs?: number;
  /** Told, every `reportEveryMs` (default 3 s), which live gateways have not acknowledged yet. */
  readonly onWaiting?: (wait: { readonly waitedMs: number; readonly silent: readonly GatewayInfo[] }) => void;
  readonly reportEveryMs?: number;
  readonly pollMs?: number;
  /** Aborting it while the freeze waits for acknowledgements lifts the freeze and ends with FREEZE_ABORTED. */
  readonly signal?: AbortSignal;
  /**
   * When another live run holds a freeze on the store: wait for it to end (reported through
   * `onWait` every 3 s) up to `timeoutMs` (undefined: as long as it takes), then refuse with
   * STORE_FROZEN. Without this option the freeze refuses at once. A second migrate-tier from one
   * source waits here: the first releases the target lock before it verifies and retires.
   */
  readonly holderWait?: {
    readonly timeoutMs?: number | undefined;
    readonly onWait?: (wait: { readonly holder: string; readonly run: FreezeInfo | null; readonly waitedMs: number }) => void;
  };
}

export interface LiftResult {
  /** The freeze was lifted (false: it was no longer this run's, e.g. unfenced meanwhile, or the store stays retired). */
  readonly lifted: boolean;
  /** The triggers were dropped too (false: disabled only, readers held the tables; the next freeze or unfence drops them). */
  readonly triggersDropped: boolean;
}

export interface Freeze {
  readonly freezeId: string;
  readonly runId: string;
  /** The store was already retired (a converge re-run from a fenced source): it stays retired whatever happens. */
  readonly alreadyRetired: boolean;
  /** A freeze this one took over: its run ended without lifting it (killed). */
  readonly tookOver: FreezeInfo | null;
  /** The live gateways that acknowledged this freeze. */
  readonly acknowledged: readonly GatewayInfo[];
  /** Undoes the freeze (a failed or cancelled run): the store takes writes again. Safe to call twice. */
  lift(): Promise<LiftResult>;
  /**
   * After a VERIFIED run: the store refuses writes for good and records where it moved (the
   * location's redacted form only). Fails with FREEZE_LOST if this freeze did not hold the whole
   * time (unfenced or a trigger disabled meanwhile): then writes may have been lost.
   */
  retire(target: { readonly tier: string; readonly location: Location; readonly cutover?: 'live' | 'restart' }): Promise<RetiredInfo>;
  /**
   * Lets go of the freeze WITHOUT lifting it (a run finished but not verified): the store stays
   * frozen, its holder gone, so the next run takes it over and `unfence` may lift it.
   */
  detach(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const runningFreeze = async (db: Database) => {
  const row = await readStateRow(db).catch(() => undefined);
  return (row && freezeOf(row)) ?? null;
};

/** The freeze holder lock; undefined behind a pooler (session locks mean nothing there). */
async function takeHolder(db: Database, options: FreezeOptions): Promise<{ holder: HeldLock | undefined; pooled: boolean }> {
  const wait = options.holderWait;
  const timeoutSeconds = wait ? (wait.timeoutMs === undefined ? undefined : wait.timeoutMs / 1000) : 0;
  try {
    const holder = await acquireAdvisoryLock(db, {
      key: FREEZE_HOLDER_KEY,
      timeoutSeconds,
      checkEveryMs: 60_000,
      reportEveryMs: 3000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(wait?.onWait ? { onWait: async ({ holder: h, waitedMs }) => wait.onWait!({ holder: describeHolder(h), run: await runningFreeze(db), waitedMs }) } : {}),
    });
    return { holder, pooled: false };
  } catch (error) {
    if (isMosaicError(error) && error.code === 'POOLER_DETECTED') return { holder: undefined, pooled: true };
    if (isMosaicError(error) && error.code === 'LOCK_ABORTED') throw new WriteFreezeError('FREEZE_ABORTED', `Stopped waiting for another run's freeze of ${db.location.display} to end; nothing was changed.`, { cause: error });
    if (isMosaicError(error) && error.code === 'LOCK_TIMEOUT') {
      const f = await runningFreeze(db);
      const waited = timeoutSeconds ? `Gave up after ${timeoutSeconds} s: ` : '';
      throw new WriteFreezeError('STORE_FROZEN', `${waited}${db.location.display} is frozen by a migration that is still running${f ? ` (run ${f.runId}, by ${f.by}, since ${f.since})` : ''}, held by ${describeHolder(await readHolder(db, FREEZE_HOLDER_KEY))}: wait for it to end, or stop it (Ctrl-C lifts its freeze).`);
    }
    throw error;
  }
}

/**
 * Freezes every writer of the store, in ONE transaction: waits (bounded) for write transactions
 * in flight, installs the refusing triggers on every data table, records the freeze and NOTIFYs
 * it. Then waits (bounded) until every live registered gateway has acknowledged. Refusals
 * undo everything: FREEZE_BLOCKED (writers did not finish), FREEZE_ACK_TIMEOUT (silent
 * gateways, named), STORE_FROZEN (another live run holds a freeze). On a retired store (a
 * converge re-run) the fence is kept and already refuses every writer: nothing to wait for.
 */
export async function freezeStore(db: Database, options: FreezeOptions): Promise<Freeze> {
  const display = db.location.display;
  if (heldHere.has(db)) throw new WriteFreezeError('STORE_FROZEN', `${display} is already frozen by this process (freeze ${heldHere.get(db)}): lift it first.`);
  await ensureFreezeSchema(db);
  const { holder, pooled } = await takeHolder(db, options);
  try {
    const freezeId = randomUUID();
    const by = options.by ?? `${hostname()} pid ${process.pid}`;
    const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    const deadline = Date.now() + lockTimeoutMs;
    let installed: { tookOver: FreezeInfo | null; alreadyRetired: boolean };
    for (;;) {
      try {
        installed = await db.transaction(async (tx) => {
          const tables = (await triggerStates(tx)).map((t) => t.table_name);
          await lockDataTables(tx, db, tables, deadline);
          const row = await readStateRow(tx, true);
          const previous = freezeOf(row);
          if (previous && pooled) {
            throw new WriteFreezeError('STORE_FROZEN', `${display} is frozen by migration run ${previous.runId} (by ${previous.by}, since ${previous.since}), and behind a connection pooler it cannot be told whether that run still lives: if it has ended, lift its freeze with: mosaic storage unfence --url ${display}`);
          }
          await tx.exec(REFUSE_FUNCTION_SQL);
          await tx.exec(tables.map(createTriggerSql).join('\n'));
          const alreadyRetired = row.state === 'retired';
          if (!alreadyRetired) {
            await tx.query(
              `update mosaic.store_state set state = 'frozen', freeze_id = $1, run_id = $2, frozen_since = now(), frozen_by = $3, updated_at = now() where singleton`,
              [freezeId, options.runId, by],
            );
            await tx.query('select pg_notify($1, $2)', [FREEZE_CHANNEL, JSON.stringify({ state: 'frozen', freezeId, runId: options.runId })]);
          }
          return { tookOver: previous, alreadyRetired };
        });
        break;
      } catch (error) {
        const state = sqlStateOf(error);
        // The deadlock detector picked this transaction (a writer held one table and wanted
        // another we had locked): the writer goes on; try again while the bound allows.
        if (state === DEADLOCK && Date.now() < deadline) continue;
        if (state === '42501') {
          throw new WriteFreezeError('FREEZE_NOT_PERMITTED', `This role may not freeze ${display} (it must own the Mosaic tables to put triggers on them: ${(error as Error).message}); nothing was changed. Run it with the role that owns them (the one that ran mosaic storage init).`, { cause: error });
        }
        if (state === LOCK_NOT_AVAILABLE || state === DEADLOCK) {
          throw new WriteFreezeError('FREEZE_BLOCKED', `Could not freeze ${display} within ${Math.round(lockTimeoutMs / 1000)} s: write transactions still hold its tables: ${await describeTableBlockers(db)}. Let them finish (or end them), then re-run; nothing was changed.`, { cause: error });
        }
        throw error;
      }
    }
    heldHere.set(db, freezeId);
    let ended = false;
    const freeze: Freeze = {
      freezeId,
      runId: options.runId,
      alreadyRetired: installed.alreadyRetired,
      tookOver: installed.tookOver,
      acknowledged: [],
      async lift() {
        if (ended) return { lifted: false, triggersDropped: false };
        ended = true;
        try {
          if (installed.alreadyRetired) return { lifted: false, triggersDropped: false };
          const lifted = await liftTriggers(db, { freezeId, lockTimeoutMs });
          return { lifted, triggersDropped: lifted ? await dropFreezeTriggers(db, 1000) : false };
        } finally {
          heldHere.delete(db);
          await holder?.release().catch(() => {});
        }
      },
      async retire(target) {
        if (ended) throw new WriteFreezeError('FREEZE_LOST', `The freeze of ${display} has ended already: it cannot be retired by this run.`);
        const retired = await db.transaction(async (tx) => {
          const row = await readStateRow(tx, true);
          const held = installed.alreadyRetired ? row.state === 'retired' : row.state === 'frozen' && row.freeze_id === freezeId;
          const broken = (await triggerStates(tx)).filter((t) => t.enabled !== 'A').map((t) => t.table_name);
          if (!held || broken.length > 0) {
            throw new WriteFreezeError('FREEZE_LOST', `The freeze of ${display} did not hold for the whole run (${!held ? `the store is now ${row.state}${row.run_id ? ` by run ${row.run_id}` : ''}` : `no refusing trigger on ${broken.join(', ')}`}): writes may have reached it after the snapshot. The source was not retired; re-run the migration to converge the target.`);
          }
          await tx.query(
            `update mosaic.store_state set state = 'retired', retired_at = now(), retired_by_run = $1, retired_to_tier = $2, retired_to_location = $3, retired_cutover = $4,
               freeze_id = null, run_id = null, frozen_since = null, frozen_by = null, updated_at = now() where singleton`,
            [options.runId, target.tier, target.location.display, target.cutover ?? null],
          );
          await tx.query('select pg_notify($1, $2)', [FREEZE_CHANNEL, JSON.stringify({ state: 'retired', runId: options.runId, tier: target.tier, location: target.location.display, cutover: target.cutover ?? null })]);
          return retiredOf(await readStateRow(tx))!;
        });
        ended = true;
        heldHere.delete(db);
        await holder?.release().catch(() => {});
        return retired;
      },
      async detach() {
        if (ended) return;
        ended = true;
        heldHere.delete(db);
        await holder?.release().catch(() => {});
      },
    };
    if (installed.alreadyRetired) return freeze;
    try {
      return { ...freeze, acknowledged: await waitForAcks(db, freezeId, options) };
    } catch (error) {
      await freeze.lift().catch(() => {});
      throw error;
    }
  } catch (error) {
    if (!heldHere.has(db)) await holder?.release().catch(() => {});
    throw error;
  }
}

/** Polls the registry until every live gateway has acknowledged `freezeId` (the state row is the fallback for NOTIFY). */
async function waitForAcks(db: Database, freezeId: string, options: FreezeOptions): Promise<GatewayInfo[]> {
  const started = Date.now();
  const timeout = options.ackTimeoutMs ?? 30_000;
  const liveWithinMs = options.liveWithinMs ?? DEFAULT_LIVE_WITHIN_MS;
  let lastReport = 0;
  for (;;) {
    const gateways = await listGateways(db, { liveWithinMs });
    const silent = gateways.filter((g) => g.live && g.ackedFreezeId !== freezeId);
    if (silent.length === 0) return gateways.filter((g) => g.ackedFreezeId === freezeId);
    const waitedMs = Date.now() - started;
    if (options.signal?.aborted) throw new WriteFreezeError('FREEZE_ABORTED', `Stopped waiting for gateways to acknowledge the freeze of ${db.location.display}; the freeze was lifted.`);
    if (waitedMs >= timeout) {
      throw new WriteFreezeError('FREEZE_ACK_TIMEOUT', `${silent.length === 1 ? 'A live gateway' : `${silent.length} live gateways`} did not acknowledge the freeze of ${db.location.display} within ${Math.round(timeout / 1000)} s: ${silent.map(describeGateway).join(', ')}. The freeze was lifted; fix or stop ${silent.length === 1 ? 'that gateway' : 'them'} (a stopped gateway stops counting once its heartbeat is ${Math.round(liveWithinMs / 1000)} s old), then re-run.`);
    }
    if (waitedMs - lastReport >= (options.reportEveryMs ?? 3000)) {
      lastReport = waitedMs;
      options.onWaiting?.({ waitedMs, silent });
    }
    await sleep(Math.min(options.pollMs ?? 100, Math.max(10, timeout - waitedMs)));
  }
}
