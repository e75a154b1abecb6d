import type { Database } from '@mosaic/connection';
import { acquireAdvisoryLock, describeHolder, readHolder } from '@mosaic/advisory-lock';
import { isMosaicError } from '@mosaic/connection';
import type { HeldLock } from '@mosaic/advisory-lock';
import { WriteFreezeError } from './errors.js';
import { DEADLOCK, describeTableBlockers, LOCK_NOT_AVAILABLE, sqlStateOf } from './locks.js';
import { FREEZE_CHANNEL, REFUSE_FUNCTION, table, TRIGGER_NAME } from './sql.js';
import { FREEZE_HOLDER_KEY, freezeOf, hasFreezeSchema, heldHere, readStateRow, retiredOf, triggerStates } from './state.js';
import type { FreezeInfo, RetiredInfo, StoreStateName } from './state.js';

const CLEARED = `state = 'open', freeze_id = null, run_id = null, frozen_since = null, frozen_by = null,
  retired_at = null, retired_by_run = null, retired_to_tier = null, retired_to_location = null, updated_at = now()`;

function blocked(db: Database, what: string, error: unknown, blockers: string): WriteFreezeError {
  return new WriteFreezeError('LIFT_BLOCKED', `Could not ${what} ${db.location.display}: sessions hold its tables: ${blockers}. It still refuses writes; end those sessions, then run: mosaic storage unfence --url ${db.location.display}`, { cause: error });
}

/**
 * Lifts the freeze `freezeId` (if it is still the store's): DISABLE of the triggers (SHARE ROW
 * EXCLUSIVE: readers do not block it, so a lift at Ctrl-C does not wait for the run's own
 * reads), the state row back to open, NOTIFY, in one transaction. False when the store is no
 * longer frozen by this freeze (left alone).
 */
export async function liftTriggers(db: Database, options: { freezeId: string; lockTimeoutMs: number }): Promise<boolean> {
  try {
    return await db.transaction(async (tx) => {
      const row = await readStateRow(tx, true);
      if (row.state !== 'frozen' || row.freeze_id !== options.freezeId) return false;
      const withTrigger = (await triggerStates(tx)).filter((t) => t.enabled !== null).map((t) => t.table_name);
      if (db.capabilities.otherClients) await tx.exec(`SET LOCAL lock_timeout = '${Math.max(1, options.lockTimeoutMs)}ms'`);
      if (withTrigger.length > 0) await tx.exec(withTrigger.map((t) => `ALTER TABLE ${table(t)} DISABLE TRIGGER ${TRIGGER_NAME};`).join('\n'));
      await tx.query(`update mosaic.store_state set ${CLEARED} where singleton`);
      await tx.query('select pg_notify($1, $2)', [FREEZE_CHANNEL, JSON.stringify({ state: 'open', freezeId: options.freezeId })]);
      return true;
    });
  } catch (error) {
    const state = sqlStateOf(error);
    if (state === LOCK_NOT_AVAILABLE || state === DEADLOCK) throw blocked(db, 'lift the freeze of', error, await describeTableBlockers(db));
    throw error;
  }
}

/**
 * Drops the (disabled) freeze triggers and the function of an OPEN store, so a lifted store is
 * as it was. DROP TRIGGER needs ACCESS EXCLUSIVE, which waits for readers: bounded by
 * `lockTimeoutMs`; false (left disabled, harmless) when it could not.
 */
export async function dropFreezeTriggers(db: Database, lockTimeoutMs: number): Promise<boolean> {
  try {
    return await db.transaction(async (tx) => {
      const row = await readStateRow(tx, true);
      if (row.state !== 'open') return false;
      const withTrigger = (await triggerStates(tx)).filter((t) => t.enabled !== null).map((t) => t.table_name);
      if (db.capabilities.otherClients) await tx.exec(`SET LOCAL lock_timeout = '${Math.max(1, lockTimeoutMs)}ms'`);
      await tx.exec([...withTrigger.map((t) => `DROP TRIGGER IF EXISTS ${TRIGGER_NAME} ON ${table(t)};`), `DROP FUNCTION IF EXISTS ${REFUSE_FUNCTION}();`].join('\n'));
      return true;
    });
  } catch (error) {
    const state = sqlStateOf(error);
    if (state === LOCK_NOT_AVAILABLE || state === DEADLOCK) return false;
    throw error;
  }
}

export interface UnfenceResult {
  /** What the store was: open (nothing to do), frozen (by a run that is gone) or retired. */
  readonly was: StoreStateName;
  readonly freeze: FreezeInfo | null;
  readonly retired: RetiredInfo | null;
  /** Freeze triggers removed (left enabled or disabled). */
  readonly triggersRemoved: number;
}

/**
 * The operator's rollback: the store takes writes again. Removes the triggers, the function
 * and the frozen or retired state, NOTIFYs. Refuses (STORE_FROZEN) while a live run holds a
 * freeze: stopping that run lifts it.
 */
export async function unfence(db: Database, options: { lockTimeoutMs?: number } = {}): Promise<UnfenceResult> {
  if (!(await hasFreezeSchema(db))) return { was: 'open', freeze: null, retired: null, triggersRemoved: 0 };
  const display = db.location.display;
  let holder: HeldLock | undefined;
  if (heldHere.has(db)) throw new WriteFreezeError('STORE_FROZEN', `${display} is frozen by this process's own run: stop the run instead.`);
  try {
    holder = await acquireAdvisoryLock(db, { key: FREEZE_HOLDER_KEY, timeoutSeconds: 0, checkEveryMs: 60_000 });
  } catch (error) {
    if (isMosaicError(error) && error.code === 'LOCK_TIMEOUT') {
      const f = freezeOf(await readStateRow(db));
      throw new WriteFreezeError('STORE_FROZEN', `${display} is frozen by a migration that is still running${f ? ` (run ${f.runId}, by ${f.by}, since ${f.since})` : ''}, held by ${describeHolder(await readHolder(db, FREEZE_HOLDER_KEY))}: stop that run (Ctrl-C lifts its freeze) instead of unfencing.`);
    }
    // Behind a pooler the holder cannot be told: the operator asked for it explicitly.
    if (!(isMosaicError(error) && error.code === 'POOLER_DETECTED')) throw error;
  }
  try {
    return await db.transaction(async (tx) => {
      const row = await readStateRow(tx, true);
      const withTrigger = (await triggerStates(tx)).filter((t) => t.enabled !== null).map((t) => t.table_name);
      if (db.capabilities.otherClients) await tx.exec(`SET LOCAL lock_timeout = '${Math.max(1, options.lockTimeoutMs ?? 30_000)}ms'`);
      await tx.exec([...withTrigger.map((t) => `DROP TRIGGER IF EXISTS ${TRIGGER_NAME} ON ${table(t)};`), `DROP FUNCTION IF EXISTS ${REFUSE_FUNCTION}();`].join('\n'));
      await tx.query(`update mosaic.store_state set ${CLEARED} where singleton`);
      await tx.query('select pg_notify($1, $2)', [FREEZE_CHANNEL, JSON.stringify({ state: 'open' })]);
      return { was: row.state, freeze: freezeOf(row), retired: retiredOf(row), triggersRemoved: withTrigger.length };
    });
  } catch (error) {
    const state = sqlStateOf(error);
    if (state === LOCK_NOT_AVAILABLE || state === DEADLOCK) throw blocked(db, 'unfence', error, await describeTableBlockers(db));
    throw error;
  } finally {
    await holder?.release().catch(() => {});
  }
}
