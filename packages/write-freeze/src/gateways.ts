import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database, Queryable } from '@mosaic/connection';
import { WriteFreezeError } from './errors.js';
import { ensureFreezeSchema } from './state.js';
import type { StoreStateName } from './state.js';

/** A gateway whose heartbeat is older than this is not live: a freeze does not wait for it. */
export const DEFAULT_LIVE_WITHIN_MS = 15_000;
/** How often a gateway should heartbeat (and so poll the state, where LISTEN is not available). */
export const HEARTBEAT_EVERY_MS = 3_000;

export interface GatewayInfo {
  readonly gatewayId: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  /** Milliseconds since the last heartbeat, by the database's clock. */
  readonly heartbeatAgeMs: number;
  readonly live: boolean;
  readonly ackedFreezeId: string | null;
}

type GatewayRow = { gateway_id: string; host: string; pid: number; started_at: string; heartbeat_at: string; age_ms: string; acked_freeze_id: string | null };

const COLUMNS = `gateway_id, host, pid, started_at::text as started_at, heartbeat_at::text as heartbeat_at,
  (extract(epoch from (clock_timestamp() - heartbeat_at)) * 1000)::bigint::text as age_ms, acked_freeze_id::text as acked_freeze_id`;

function info(row: GatewayRow, liveWithinMs: number): GatewayInfo {
  const age = Number(row.age_ms);
  return {
    gatewayId: row.gateway_id, host: row.host, pid: row.pid, startedAt: row.started_at, heartbeatAt: row.heartbeat_at,
    heartbeatAgeMs: age, live: age <= liveWithinMs, ackedFreezeId: row.acked_freeze_id,
  };
}

/** Every registered gateway, live or not (`live`: heartbeat within `liveWithinMs`). */
export async function listGateways(db: Queryable, options: { liveWithinMs?: number } = {}): Promise<GatewayInfo[]> {
  const rows = await db.query<GatewayRow>(`select ${COLUMNS} from mosaic.gateways order by started_at, gateway_id`);
  return rows.map((r) => info(r, options.liveWithinMs ?? DEFAULT_LIVE_WITHIN_MS));
}

export function describeGateway(g: GatewayInfo): string {
  return `${g.gatewayId} (${g.host} pid ${g.pid}, last heartbeat ${(g.heartbeatAgeMs / 1000).toFixed(1)} s ago)`;
}

/** What a gateway learns at each heartbeat: the polling fallback where NOTIFY does not reach it. */
export interface GatewayView {
  readonly gatewayId: string;
  readonly state: StoreStateName;
  /** The freeze to stop writes for and acknowledge (state 'frozen'), else null. */
  readonly freezeId: string | null;
}

async function view(db: Queryable, gatewayId: string): Promise<GatewayView> {
  const [row] = await db.query<{ state: StoreStateName; freeze_id: string | null }>('select state, freeze_id::text as freeze_id from mosaic.store_state where singleton');
  return { gatewayId, state: row?.state ?? 'open', freezeId: row?.state === 'frozen' ? (row.freeze_id ?? null) : null };
}

/**
 * Registers a gateway serving this store (or refreshes its row). Refuses a retired store
 * (STORE_RETIRED, naming where it moved): a gateway must not start on it.
 */
export async function registerGateway(db: Database, options: { gatewayId?: string; host?: string; pid?: number } = {}): Promise<GatewayView> {
  await ensureFreezeSchema(db);
  const gatewayId = options.gatewayId ?? randomUUID();
  const [retired] = await db.query<{ tier: string | null; location: string | null; run: string | null; at: string | null }>(
    "select retired_to_tier as tier, retired_to_location as location, retired_by_run as run, retired_at::text as at from mosaic.store_state where singleton and state = 'retired'");
  if (retired) {
    throw new WriteFreezeError('STORE_RETIRED', `${db.location.display} is retired: it moved to the ${retired.tier} tier at ${retired.location} (migration run ${retired.run}, ${retired.at}). Configure the gateway with the new store, or roll back with: mosaic storage unfence --url ${db.location.display}`);
  }
  await db.query(
    `insert into mosaic.gateways (gateway_id, host, pid) values ($1, $2, $3)
     on conflict (gateway_id) do update set host = excluded.host, pid = excluded.pid, heartbeat_at = now()`,
    [gatewayId, options.host ?? hostname(), options.pid ?? process.pid],
  );
  return view(db, gatewayId);
}

/** Records that the gateway is alive; returns the store's state (a freeze to act on). */
export async function heartbeat(db: Queryable, gatewayId: string): Promise<GatewayView> {
  await db.query('update mosaic.gateways set heartbeat_at = now() where gateway_id = $1', [gatewayId]);
  return view(db, gatewayId);
}

/** The gateway stopped its writes for `freezeId` and its in-flight writes have ended. */
export async function ackFreeze(db: Queryable, gatewayId: string, freezeId: string): Promise<void> {
  await db.query('update mosaic.gateways set acked_freeze_id = $2, acked_at = now(), heartbeat_at = now() where gateway_id = $1', [gatewayId, freezeId]);
}

/** A gateway that stops cleanly removes its row (a killed one goes stale instead). */
export async function deregisterGateway(db: Queryable, gatewayId: string): Promise<void> {
  await db.query('delete from mosaic.gateways where gateway_id = $1', [gatewayId]);
}
