import { AdvisoryLockError, isFenceFailure } from '@mosaic/advisory-lock';
import type { Database } from '@mosaic/connection';
import type { RunHooks } from './events.js';
import { CopyEngineError } from './errors.js';
import { finishTable, recordChunkSql, restartTable, startTable } from './journal.js';
import type { ChunkPosition } from './journal.js';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { binaryCopyTuples, watched } from './stream.js';

export interface TableCopyContext {
  readonly runId: string;
  readonly source: SourceReader;
  readonly target: Database;
  readonly batchSize: number;
  /** Re-run over rows that may exist: stage each chunk and upsert. */
  readonly upsert: boolean;
  readonly stallMs: number;
  readonly hooks: RunHooks;
  /** Aborted when the run must stop (its lock lost): no chunk commits after that. */
  readonly signal?: AbortSignal | undefined;
  /** A statement sent with every chunk's COMMIT that fails unless the run still holds its lock (HeldLock.fenceSql). */
  readonly fence?: string | undefined;
}

export interface TableCopyResult {
  readonly table: string;
  /** Rows copied by this run (a resumed table counts only what was left). */
  readonly rows: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly resumed: boolean;
}

const literal = (value: string, type: string) => `'${value.replace(/'/g, "''")}'::${type}`;

/** `(k1, k2) op ('v1'::t1, 'v2'::t2)`: COPY takes no bind parameters, so keys are inlined as literals. */
function keyCompare(table: PlannedTable, op: '>' | '<=', values: readonly string[]): string {
  return `(${list(table.primaryKey)}) ${op} (${values.map((v, i) => literal(v, table.keyTypes[i]!)).join(', ')})`;
}

/** The last key of the next chunk, and how many rows it holds; undefined when none are left. */
async function nextBoundary(db: { query: Database['query'] }, table: PlannedTable, after: readonly string[] | null, batchSize: number) {
  const where = after ? `where ${keyCompare(table, '>', after)}` : '';
  // The text forms get their own names: ordering by a ::text alias would sort bigint keys as text.
  const [row] = await db.query<Record<string, string>>(
    `select count(*) over ()::text as mosaic_n, ${table.primaryKey.map((k, i) => `chunk.${ident(k)}::text as mosaic_k${i}`).join(', ')}
       from (select ${list(table.primaryKey)} from ${ident(table.table)} ${where} order by ${list(table.primaryKey)} limit ${batchSize}) chunk
      order by ${table.primaryKey.map((k) => `chunk.${ident(k)} desc`).join(', ')} limit 1`,
  );
  if (!row) return undefined;
  return { rows: Number(row.mosaic_n), last: table.primaryKey.map((_, i) => row[`mosaic_k${i}`]!) };
}

/**
 * Bytes of table (heap and TOAST) in one page chunk at most: a chunk is held whole while the
 * target ingests the one before (its COPY output is about half of this for messages).
 */
const PAGE_CHUNK_BYTES = 32 * 1024 * 1024;

/**
 * The table's heap pages, and how many of them make one chunk: about `batchSize` rows, and no
 * more than PAGE_CHUNK_BYTES of table, TOAST included (50k rows with a vector each are 300 MB).
 */
async function pageChunks(db: { query: Database['query'] }, table: PlannedTable, batchSize: number) {
  const [row] = await db.query<{ pages: string; bytes: string }>(
    `select (pg_relation_size('${ident(table.table)}') / current_setting('block_size')::int)::text as pages, pg_table_size('${ident(table.table)}')::text as bytes`,
  );
  const pages = Number(row!.pages);
  const share = Math.min(batchSize / Math.max(table.rows, 1), PAGE_CHUNK_BYTES / Math.max(Number(row!.bytes), 1));
  return { pages, step: Math.max(1, Math.floor(pages * share)) };
}

/**
 * Upsert of a staged chunk. A row that is already there byte for byte (compared as text, so a
 * jsonb 2406.60 differs from 2406.6) is left alone: no new row version, no index entry, no
 * trigger, which makes re-running onto a full target mostly reads. Deferred columns are
 * staged NULL and are neither written nor compared here; the deferred pass sets them.
 */
function upsertSql(table: PlannedTable): string {
  const cols = list(table.columns);
  const compared = table.columns.filter((c) => !table.primaryKey.includes(c) && !table.deferred.includes(c));
  const updates = compared.map((c) => `${ident(c)} = excluded.${ident(c)}`);
  const overriding = table.identity.length > 0 ? ' overriding system value' : '';
  const differs = `row(${compared.map((c) => `t.${ident(c)}`).join(', ')})::text is distinct from row(${compared.map((c) => `excluded.${ident(c)}`).join(', ')})::text`;
  const onConflict = updates.length > 0 ? `do update set ${updates.join(', ')} where ${differs}` : 'do nothing';
  return `insert into ${ident(table.table)} as t (${cols})${overriding} select ${cols} from mosaic_stage on conflict (${list(table.primaryKey)}) ${onConflict}`;
}

/**
 * Copies one table in key-ordered chunks. Each chunk is one target transaction holding the
 * rows AND the journal entry that records them, so a crash leaves whole chunks only and a
 * re-run goes on after the last committed key.
 */
export async function copyTable(table: PlannedTable, ctx: TableCopyContext): Promise<TableCopyResult> {
  const started = performance.now();
  ctx.signal?.throwIfAborted();
  // Heap-page chunks where nothing else writes to the source (a locked PGlite store), unless a
  // key-ordered copy of this table stopped half-way: that one goes on after its last key.
  const byPages = ctx.source.exclusive && !(table.resume && !table.resume.byPages && table.resume.lastKey !== null);
  // A stopped page-chunked copy starts over as upserts: the store may have changed between the
  // runs, and its rows moved with it, so "pages before n" no longer names the rows copied.
  const restart = table.resume !== null && table.resume.byPages && table.resume.rowsCopied > 0;
  const upsert = ctx.upsert || restart;
  let lastKey = restart ? null : table.resume?.lastKey ?? null;
  let done = restart ? 0 : table.resume?.rowsCopied ?? 0;
  const resumed = table.resume !== null;
  let rows = 0;
  let bytes = 0;
  let chunk = 0;
  ctx.hooks.onEvent?.({ type: 'table-start', table: table.table, rows: table.rows, resumedRows: done });
  await startTable(ctx.target, ctx.runId, table.table);
  if (restart) await restartTable(ctx.target, ctx.runId, table.table);
  const select = table.columns.map((c) => (table.deferred.includes(c) ? `null::${table.columnTypes[c]} as ${ident(c)}` : ident(c))).join(', ');
  const into = upsert ? 'mosaic_stage' : ident(table.table);
  const copyOut = (where: string) => `copy (select ${select} from ${ident(table.table)} where ${where}) to stdout (format binary)`;
  const keyRange = (after: readonly string[] | null, last: readonly string[]) => [after ? keyCompare(table, '>', after) : null, keyCompare(table, '<=', last)].filter(Boolean).join(' and ');
  const count = (n: number) => (bytes += n);
  // A source stream that stalled (or was stopped) fails the target's COPY too: report why.
  let streamFailure: unknown;
  const streamFailed = (error: unknown) => void (streamFailure ??= error);

  /** One chunk into the target: its rows and its journal entry in one transaction. */
  const write = async (position: ChunkPosition, chunkRows: number, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) => {
    streamFailure = undefined;
    // Four round trips a chunk, whatever the mode: BEGIN with the staging table and the journal
    // entry in one message, the COPY (two: its start and its end), the upsert with COMMIT in one.
    // A failure anywhere rolls all of it back: the journal moves with the data or not at all.
    const stage = upsert ? `create temp table mosaic_stage (like ${ident(table.table)} including defaults) on commit drop; ` : '';
    try {
      await target.exec(`BEGIN; ${stage}${recordChunkSql(ctx.runId, table.table, position, chunkRows)}`);
      await target.copyFrom(`copy ${into} (${list(table.columns)}) from stdin (format binary)`, data);
      await ctx.hooks.failpoint?.(`chunk:${table.table}:${chunk}`);
      // The last thing before COMMIT: a run that lost its lock commits nothing more. A flag, no
      // round trip (the lock's connection closing sets it at once).
      ctx.signal?.throwIfAborted();
      // The fence rides with the COMMIT: the server refuses the commit of a run that lost its
      // lock even if this process has not heard yet (a terminated lock session, Ctrl-C's unlock).
      await target.exec(`${upsert ? `${upsertSql(table)}; ` : ''}${ctx.fence ? `${ctx.fence}; ` : ''}COMMIT`);
    } catch (error) {
      await target.exec('ROLLBACK').catch(() => {});
      if (isFenceFailure(error)) {
        throw new AdvisoryLockError('LOCK_LOST', `The Mosaic lock on ${ctx.target.location.display} is no longer held by this run (the server checked it before the chunk's COMMIT): nothing of that chunk was committed. Re-run to resume.`, { cause: error });
      }
      throw streamFailure ?? error;
    }
    rows += chunkRows;
    done += chunkRows;
    chunk++;
    ctx.hooks.onEvent?.({ type: 'table-progress', table: table.table, rowsDone: done, rows: Math.max(table.rows, done), bytes });
  };

  // One target session for the whole table: a new connection per chunk costs a backend start
  // and cold catalog caches each time (measured: 3 s over 80 chunks of messages).
  const target = await ctx.target.session();
  try {
    if (byPages) {
      // Pages are read in order (a key range on random UUIDs reads them at random), and PGlite,
      // in its own thread, exports the next range while the target ingests this one. The last
      // range is open-ended, so no row can fall off the end.
      const { pages, step } = await ctx.source.withSnapshot((src) => pageChunks(src, table, ctx.batchSize));
      const fetch = (first: number) => ctx.source.withSnapshot(async (src) => {
        const last = first + step >= pages;
        const where = `ctid >= '(${first},0)'::tid${last ? '' : ` and ctid < '(${first + step},0)'::tid`}`;
        const data: Uint8Array[] = [];
        for await (const part of watched(src.copyTo(copyOut(where)), table.table, ctx.stallMs, count, ctx.signal)) data.push(part);
        return { next: last ? undefined : first + step, rows: binaryCopyTuples(data), data };
      });
      let next: Promise<Awaited<ReturnType<typeof fetch>> | undefined> = fetch(0);
      for (;;) {
        const current = await next;
        if (!current) break;
        next = current.next === undefined ? Promise.resolve(undefined) : fetch(current.next);
        next.catch(() => {}); // if this chunk's write fails, its error is the one that counts
        if (current.rows > 0) await write({ page: current.next ?? pages }, current.rows, current.data);
      }
    } else {
      // Key-ordered chunks, each streamed from the snapshot straight into the target.
      for (;;) {
        const more = await ctx.source.withSnapshot(async (src) => {
          const boundary = await nextBoundary(src, table, lastKey, ctx.batchSize);
          if (!boundary) return false;
          await write(boundary.last, boundary.rows, watched(src.copyTo(copyOut(keyRange(lastKey, boundary.last))), table.table, ctx.stallMs, count, ctx.signal, streamFailed));
          lastKey = boundary.last;
          return boundary.rows === ctx.batchSize;
        });
        if (!more) break;
      }
    }
  } finally {
    await target.release();
  }
  // Every row of the snapshot must now be in the target: a cheap guard against any gap. A locked
  // store still holds what it held when the run counted it (and a count of it is not cheap).
  const [sourceCount, targetCount] = await Promise.all([
    ctx.source.exclusive
      ? table.rows
      : ctx.source.withSnapshot(async (src) => Number((await src.query<{ n: string }>(`select count(*)::text as n from ${ident(table.table)}`))[0]!.n)),
    ctx.target.query<{ n: string }>(`select count(*)::text as n from ${ident(table.table)}`).then((r) => Number(r[0]!.n)),
  ]);
  if (sourceCount !== targetCount) {
    throw new CopyEngineError('COPY_MISMATCH', `${table.table}: the source snapshot has ${sourceCount} rows, the target ${targetCount} after the copy. Nothing was marked done; re-run to converge, and report this.`);
  }
  await finishTable(ctx.target, ctx.runId, table.table);
  const seconds = (performance.now() - started) / 1000;
  ctx.hooks.onEvent?.({ type: 'table-done', table: table.table, rows, bytes, seconds, resumed });
  await ctx.hooks.failpoint?.(`table-done:${table.table}`);
  return { table: table.table, rows, bytes, seconds, resumed };
}
