import type { Database, Queryable, Session } from '@mosaic/connection';

/**
 * Reads of the source, all from ONE consistent snapshot.
 * PostgreSQL: a REPEATABLE READ READ ONLY transaction takes ACCESS SHARE locks on the copied
 * tables (as pg_dump does) and then exports its snapshot; every chunk reads on a connection of
 * its own that imports it (SET TRANSACTION SNAPSHOT; a COPY in the same message as the import,
 * Database.copyTo's `snapshot`), so parallel jobs see the same data and no COPY shares a
 * connection (postgres.js #499). The locks, held until close(),
 * keep the tables from being rewritten (VACUUM FULL, CLUSTER, a rewriting ALTER TABLE all need
 * ACCESS EXCLUSIVE) while the run reads them: the rows the snapshot sees then stay where they
 * are, so heap-page (ctid) ranges are a stable order to copy by. Ordinary writes, VACUUM and
 * ANALYZE go on (they never move a row version the snapshot sees); DDL on a copied table waits
 * for the run (reported as a lock wait on the source).
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

export async function openSourceReader(db: Database, tables: readonly string[] = []): Promise<SourceReader> {
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
    // Locked before the snapshot is taken (LOCK takes none): no rewrite can fall between the two.
    if (tables.length > 0) await holder.exec(`lock table ${tables.map((t) => `"${t.replace(/"/g, '""')}"`).join(', ')} in access share mode`);
    const [row] = await holder.query<{ id: string }>('select pg_export_snapshot() as id');
    snapshot = row!.id;
  } catch (error) {
    await holder.release();
    throw error;
  }
  const inSnapshot = async (): Promise<Session> => {
    const session = await db.session();
    try {
      await session.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await session.exec(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
      return session;
    } catch (error) {
      await session.release();
      throw error;
    }
  };
  return {
    exclusive: false,
    async withSnapshot(fn) {
      // A session that imports the snapshot only once a statement needs it: a chunk that only
      // copies reads on a connection of its own (the wire reader: settings, snapshot and COPY in
      // one message), and opens no session at all.
      let session: Promise<Session> | undefined;
      const open = () => (session ??= inSnapshot());
      try {
        return await fn({
          engine: db.engine,
          capabilities: db.capabilities,
          query: async (text, params) => (await open()).query(text, params),
          exec: async (text) => (await open()).exec(text),
          copyTo: (sql) => db.copyTo(sql, { snapshot }),
        });
      } finally {
        // Ending the connection ends the read-only transaction with it.
        const opened = await session?.catch(() => undefined);
        await opened?.release();
      }
    },
    async close() {
      await holder.exec('COMMIT').catch(() => {});
      await holder.release();
    },
  };
}
