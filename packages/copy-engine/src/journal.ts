import type { Database, Queryable } from '@mosaic/connection';

/** What the target's run journal says about migrations into it. */
export interface JournalRun {
  readonly runId: string;
  readonly sourceInstance: string;
  readonly sourceLocation: string;
  readonly status: 'running' | 'done';
  readonly startedAt: string;
  /** The transaction id (xid8, as text) the run finished in: rows with a newer xmin were written since. Null before then, or in a journal older than watermarks. */
  readonly finishedXid: string | null;
  readonly tables: ReadonlyMap<string, JournalTable>;
}

export interface JournalTable {
  readonly status: 'copying' | 'done';
  /** Text values of the key columns of the last committed row; null before the first chunk, or when copied by pages. */
  readonly lastKey: string[] | null;
  /** Copied in heap-page chunks: a stopped copy of it starts over (emptied, loaded again by pages). */
  readonly byPages: boolean;
  readonly rowsCopied: number;
  readonly chunks: number;
  /** The table's row count when the run finished (null before, or in an older journal). */
  readonly rowsAtFinish: number | null;
}

/** The newest run recorded in the target, if the journal exists. */
export async function readLatestRun(db: Queryable): Promise<JournalRun | undefined> {
  const [exists] = await db.query<{ ok: boolean }>("select to_regclass('mosaic.migration_runs') is not null as ok");
  if (!exists?.ok) return undefined;
  // to_jsonb(r)->>'column': a journal from before the watermark columns (a dry run does not
  // apply the schema) reads as null instead of failing.
  const [run] = await db.query<{ run_id: string; source_instance: string; source_location: string; status: 'running' | 'done'; started_at: string; finished_xid: string | null }>(
    "select run_id::text, source_instance::text, source_location, status, started_at, to_jsonb(r)->>'finished_xid' as finished_xid from mosaic.migration_runs r order by started_at desc limit 1",
  );
  if (!run) return undefined;
  const rows = await db.query<{ table_name: string; status: 'copying' | 'done'; last_key: string | null; rows_copied: string; chunks: number; rows_at_finish: string | null }>(
    "select table_name, status, last_key::text as last_key, rows_copied, chunks, to_jsonb(t)->>'rows_at_finish' as rows_at_finish from mosaic.migration_tables t where run_id = $1",
    [run.run_id],
  );
  const tables = new Map<string, JournalTable>();
  for (const r of rows) {
    const position = r.last_key ? (JSON.parse(r.last_key) as ChunkPosition) : null;
    tables.set(r.table_name, {
      status: r.status, lastKey: Array.isArray(position) ? position : null, byPages: position !== null && !Array.isArray(position), rowsCopied: Number(r.rows_copied), chunks: r.chunks,
      rowsAtFinish: r.rows_at_finish === null ? null : Number(r.rows_at_finish),
    });
  }
  return {
    runId: run.run_id, sourceInstance: run.source_instance, sourceLocation: run.source_location, status: run.status, startedAt: run.started_at, finishedXid: run.finished_xid, tables,
  };
}

export async function startRun(db: Queryable, run: { runId: string; sourceInstance: string; sourceLocation: string; sourceTier: string; targetTier: string }): Promise<void> {
  await db.query(
    "insert into mosaic.migration_runs (run_id, source_instance, source_location, source_tier, target_tier, status) values ($1, $2, $3, $4, $5, 'running')",
    [run.runId, run.sourceInstance, run.sourceLocation, run.sourceTier, run.targetTier],
  );
}

export async function startTable(db: Queryable, runId: string, table: string): Promise<void> {
  await db.query(
    "insert into mosaic.migration_tables (run_id, table_name, status) values ($1, $2, 'copying') on conflict (run_id, table_name) do nothing",
    [runId, table],
  );
}

/**
 * Where a table's copy stands, as last_key holds it: the key of the last row copied (an
 * array: key-ordered chunks), or the end page of the last page range committed (`{"page": n}`;
 * with several jobs on the table, ranges commit in any order: it says only that the table goes
 * by pages, which is all a resume needs, since a stopped page copy starts over).
 */
export type ChunkPosition = readonly string[] | { readonly page: number };

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * The journal entry of one chunk, as a statement with its values inlined: it rides in the same
 * simple-protocol message as the chunk's BEGIN, so it costs no round trip of its own (on a
 * 10 ms link each one is 10 ms per chunk). Runs inside the chunk's transaction: the journal
 * moves with the data or not at all.
 */
export function recordChunkSql(runId: string, table: string, position: ChunkPosition | null, rows: number): string {
  if (!/^[0-9a-f-]{36}$/i.test(runId) || !Number.isSafeInteger(rows)) throw new Error(`bad journal entry: run ${runId}, ${rows} rows`);
  // A converge chunk has no position (the next run's checksums say what is left): last_key and
  // the rows copied by position stay; only its chunk is counted.
  const at = position === null ? '' : `last_key = ${literal(JSON.stringify(position))}::jsonb, rows_copied = rows_copied + ${rows}, `;
  return `update mosaic.migration_tables set ${at}chunks = chunks + 1, updated_at = now() where run_id = ${literal(runId)} and table_name = ${literal(table)}`;
}

/**
 * A table copied again from its start (a stopped page-chunked copy, whose pages no longer name
 * the rows it copied): emptied, and its journal counted from zero, in one transaction.
 */
export async function restartTable(db: Database, runId: string, table: string, guard: { signal?: AbortSignal | undefined; fence?: string | undefined } = {}): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.exec(`truncate "${table.replace(/"/g, '""')}"`);
    await tx.query("update mosaic.migration_tables set last_key = null, rows_copied = 0, chunks = 0, status = 'copying', updated_at = now() where run_id = $1 and table_name = $2", [runId, table]);
    // A run that lost its lock empties nothing.
    guard.signal?.throwIfAborted();
    if (guard.fence) await tx.exec(guard.fence);
  });
}

export async function finishTable(db: Queryable, runId: string, table: string): Promise<void> {
  await db.query("update mosaic.migration_tables set status = 'done', updated_at = now() where run_id = $1 and table_name = $2", [runId, table]);
}

/**
 * Closes the run, in one transaction, with its watermark: each copied table's row count now and
 * the id of this transaction (every row the run wrote is older; anything newer was written since).
 */
export async function finishRun(db: Database, runId: string, tables: readonly string[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const table of tables) {
      await tx.query(
        `insert into mosaic.migration_tables (run_id, table_name, status, rows_at_finish) values ($1, $2, 'done', (select count(*) from "${table.replace(/"/g, '""')}"))
           on conflict (run_id, table_name) do update set rows_at_finish = excluded.rows_at_finish`,
        [runId, table],
      );
    }
    await tx.query("update mosaic.migration_runs set status = 'done', finished_at = now(), finished_xid = pg_current_xact_id()::text where run_id = $1", [runId]);
  });
}
