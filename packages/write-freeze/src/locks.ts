import type { Database, Queryable, Session } from '@mosaic/connection';
import { isConnectionError } from '@mosaic/connection';
import { BLOCKERS_SQL, DATA_TABLES, table } from './sql.js';

/** SQLSTATEs of a lock wait that ended: lock_timeout passed, or the deadlock detector chose us. */
export const LOCK_NOT_AVAILABLE = '55P03';
export const DEADLOCK = '40P01';

export const sqlStateOf = (error: unknown): string | undefined => (isConnectionError(error) ? error.sqlState : undefined);

/**
 * Takes SHARE ROW EXCLUSIVE on each data table, the lock CREATE TRIGGER and ENABLE/DISABLE
 * TRIGGER take: it waits for every write transaction that has touched the table to end, and
 * queues later writers behind it. Each wait gets what is left of the deadline as its
 * lock_timeout (55P03 once it passes). PGlite has no other session to wait for.
 */
export async function lockDataTables(tx: Session, db: Database, tables: readonly string[], deadline: number): Promise<void> {
  if (!db.capabilities.otherClients) return;
  for (const name of tables) {
    const left = Math.max(1, deadline - Date.now());
    await tx.exec(`SET LOCAL lock_timeout = '${left}ms'; LOCK TABLE ${table(name)} IN SHARE ROW EXCLUSIVE MODE`);
  }
}

/** Who holds a lock on the data tables that a trigger change waits for: `pid 123 (app, idle in transaction since ...)`. */
export async function describeTableBlockers(db: Queryable): Promise<string> {
  if (!db.capabilities.otherClients) return 'another session';
  const rows = await db.query<{ pid: number; app: string; state: string | null; since: string | null }>(BLOCKERS_SQL, [DATA_TABLES.join(',')]).catch(() => []);
  if (rows.length === 0) return 'a transaction that has ended since';
  return rows.map((r) => `pid ${r.pid} (${r.app || 'no application_name'}, ${r.state ?? 'state unknown'}${r.since ? ` since ${r.since}` : ''})`).join(', ');
}
