import type { Database, Queryable } from '@mosaic/connection';
import { readHolder } from '@mosaic/advisory-lock';
import { applyMigrations, readSchemaInfo } from '@mosaic/schema';
import { listGateways } from './gateways.js';
import type { GatewayInfo } from './gateways.js';
import { DATA_TABLES, TRIGGER_STATE_SQL } from './sql.js';

/**
 * The advisory lock a freezer holds on the SOURCE for as long as its freeze lasts ("Mosaic" + 3;
 * the run lock on the target is + 1, schema migrations + 2). A freeze whose holder is gone (the
 * run was killed) is orphaned: the next run takes it over, `unfence` lifts it.
 */
export const FREEZE_HOLDER_KEY = 0x4d6f7361_69630003n;

export type StoreStateName = 'open' | 'frozen' | 'retired';

export interface FreezeInfo {
  readonly freezeId: string;
  readonly runId: string;
  readonly since: string;
  readonly by: string;
}

export interface RetiredInfo {
  readonly at: string;
  readonly runId: string;
  readonly tier: string;
  /** Redacted: `postgresql://u:***@host/db`. */
  readonly location: string;
  /**
   * How the run that retired it asked gateways to follow: `live` (switch at once, where they know
   * the target's credentials), `restart`, or null (each gateway's own cutover option decides).
   */
  readonly cutover: 'live' | 'restart' | null;
}

export interface StoreState {
  /** False when the store's schema predates the write freeze (no mosaic.store_state yet): it is open. */
  readonly available: boolean;
  readonly state: StoreStateName;
  readonly freeze: FreezeInfo | null;
  /**
   * Whether the run that froze the store still holds its freeze (its session lives); null when
   * it cannot be told (a pooler, or a PGlite store: only its own process could hold it).
   */
  readonly holderAlive: boolean | null;
  readonly retired: RetiredInfo | null;
  /** Freeze triggers on the data tables: enabled (refusing), disabled (left by a lift that could not drop them), missing. */
  readonly triggers: { readonly enabled: number; readonly disabled: number; readonly missing: number };
  readonly gateways: readonly GatewayInfo[];
}

type StateRow = {
  state: StoreStateName;
  freeze_id: string | null;
  run_id: string | null;
  frozen_since: string | null;
  frozen_by: string | null;
  retired_at: string | null;
  retired_by_run: string | null;
  retired_to_tier: string | null;
  retired_to_location: string | null;
  retired_cutover: 'live' | 'restart' | null;
};

export const STATE_COLUMNS = 'state, freeze_id::text as freeze_id, run_id, frozen_since::text as frozen_since, frozen_by, retired_at::text as retired_at, retired_by_run, retired_to_tier, retired_to_location, retired_cutover';

export async function hasFreezeSchema(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ ok: boolean }>(`select to_regclass('mosaic.store_state') is not null and to_regclass('mosaic.gateways') is not null
      and exists (select 1 from pg_attribute where attrelid = to_regclass('mosaic.store_state') and attname = 'retired_cutover' and not attisdropped) as ok`);
  return row?.ok === true;
}

/**
 * Adds the write-freeze tables to a store whose schema predates them (the store's own tier's
 * pending migrations; a no-op when up to date). Freezing is the first write a migration makes to
 * its source, so the tables come with it rather than asking the operator for an `init` first.
 */
export async function ensureFreezeSchema(db: Database): Promise<void> {
  if (await hasFreezeSchema(db)) return;
  const info = await readSchemaInfo(db);
  if (info) await applyMigrations(db, info.tier);
}

export async function readStateRow(db: Queryable, forUpdate = false): Promise<StateRow> {
  const [row] = await db.query<StateRow>(`select ${STATE_COLUMNS} from mosaic.store_state where singleton${forUpdate ? ' for update' : ''}`);
  if (row) return row;
  await db.query('insert into mosaic.store_state (singleton) values (true) on conflict (singleton) do nothing');
  return readStateRow(db, forUpdate);
}

export function freezeOf(row: StateRow): FreezeInfo | null {
  return row.state === 'frozen' && row.freeze_id ? { freezeId: row.freeze_id, runId: row.run_id ?? '?', since: row.frozen_since ?? '?', by: row.frozen_by ?? '?' } : null;
}

export function retiredOf(row: StateRow): RetiredInfo | null {
  return row.state === 'retired'
    ? { at: row.retired_at ?? '?', runId: row.retired_by_run ?? '?', tier: row.retired_to_tier ?? '?', location: row.retired_to_location ?? '?', cutover: row.retired_cutover ?? null }
    : null;
}

export async function triggerStates(db: Queryable): Promise<Array<{ table_name: string; enabled: string | null }>> {
  return db.query<{ table_name: string; enabled: string | null }>(TRIGGER_STATE_SQL, [DATA_TABLES.join(',')]);
}

/** In this process: the Database objects with a freeze held (PGlite has one session, so its advisory locks are re-entrant). */
export const heldHere = new WeakMap<Database, string>();

/** What `mosaic storage status` shows: open, frozen (by which run, since when, alive) or retired (to where), and the gateways. */
export async function storeState(db: Database, options: { liveWithinMs?: number } = {}): Promise<StoreState> {
  if (!(await hasFreezeSchema(db))) {
    return { available: false, state: 'open', freeze: null, holderAlive: null, retired: null, triggers: { enabled: 0, disabled: 0, missing: DATA_TABLES.length }, gateways: [] };
  }
  const row = await readStateRow(db);
  const triggers = await triggerStates(db);
  const freeze = freezeOf(row);
  let holderAlive: boolean | null = null;
  if (freeze && db.capabilities.otherClients) holderAlive = (await readHolder(db, FREEZE_HOLDER_KEY)) !== undefined;
  else if (freeze) holderAlive = heldHere.get(db) === freeze.freezeId;
  return {
    available: true,
    state: row.state,
    freeze,
    holderAlive,
    retired: retiredOf(row),
    triggers: {
      enabled: triggers.filter((t) => t.enabled === 'A').length,
      disabled: triggers.filter((t) => t.enabled !== null && t.enabled !== 'A').length,
      missing: triggers.filter((t) => t.enabled === null).length,
    },
    gateways: await listGateways(db, options),
  };
}
