import type { Database, Queryable, Session } from '@mosaic/connection';

/**
 * Reads of the source, all from ONE consistent snapshot.
 * PostgreSQL: a REPEATABLE READ READ ONLY transaction exports its snapshot; every chunk runs
 * on a fresh single-connection client that imports it (SET TRANSACTION SNAPSHOT), so parallel
 * jobs see the same data and no COPY shares a connection (postgres.js #499).
 * PGlite: the store is opened exclusively (store lock): nothing else can write to it.
 * Chosen by the connection's capabilities (exclusive, snapshotExport), not by engine name.
 */
export interface SourceReader {
  /**
   * Nothing else writes to the source while the run holds it (a PGlite store, opened
   * exclusively): heap pages are a stable order to copy by. Its chunks also arrive whole
   * (COPY TO '/dev/blob'), so reading one ahead costs one chunk of memory.
   */
  readonly exclusive: boolean;
  /** Runs `fn` on a session that sees the snapshot; released after. */
  withSnapshot<T>(fn: (session: Queryable & Pick<Session, 'copyTo'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openSourceReader(db: Database): Promise<SourceReader> {
  // A store this process holds alone is its own consistent snapshot: nothing else writes to it.
  if (db.capabilities.exclusive) {
    return { exclusive: true, withSnapshot: (fn) => fn(db), close: async () => {} };
  }
  if (!db.capabilities.snapshotExport) {
    throw new Error(`${db.location.display}: an engine that other clients write to must export snapshots to be read consistently`);
  }
  const holder = await db.session();
  let snapshot: string;
  try {
    await holder.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const [row] = await holder.query<{ id: string }>('select pg_export_snapshot() as id');
    snapshot = row!.id;
  } catch (error) {
    await holder.release();
    throw error;
  }
  return {
    exclusive: false,
    async withSnapshot(fn) {
      const session = await db.session();
      try {
        await session.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await session.exec(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
        return await fn(session);
      } finally {
        // Ending the connection ends the read-only transaction with it.
        await session.release();
      }
    },
    async close() {
      await holder.exec('COMMIT').catch(() => {});
      await holder.release();
    },
  };
}
