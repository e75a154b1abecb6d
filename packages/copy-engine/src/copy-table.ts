import { AdvisoryLockError, isFenceFailure } from '@mosaic/advisory-lock';
import type { Database, Session } from '@mosaic/connection';
import type { RunHooks } from './events.js';
import { finishTable, recordChunkSql, restartTable, startTable } from './journal.js';
import type { ChunkPosition } from './journal.js';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { binaryCopyTuples, watched } from './stream.js';
import { assertCount, deleteGone, diffTable, inBuckets, upsertSql } from './sync.js';
import type { TableDiff } from './sync.js';

export interface TableCopyContext {
  readonly runId: string;
  readonly source: SourceReader;
  readonly target: Database;
  readonly batchSize: number;
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
  /** Target rows deleted (the source no longer has them). */
  readonly deleted: number;
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

/** What copyTable() learned of a `converge` table before the run's delete pass (sync.ts). */
export interface TableCopyInput {
  readonly diff?: TableDiff | undefined;
  /** Rows deleted by the delete pass (counted in the report). */
  readonly deleted?: number | undefined;
}

/**
 * Brings one table to the snapshot by its planned strategy (plan.ts TableStrategy): `fresh`,
 * `resume` (then re-checked as `converge`), `restart` (emptied, then `fresh`), `converge`. Each
 * chunk is one target transaction holding its rows AND the journal entry that records them, so
 * a crash leaves whole chunks only.
 */
export async function copyTable(table: PlannedTable, ctx: TableCopyContext, input: TableCopyInput = {}): Promise<TableCopyResult> {
  const started = performance.now();
  ctx.signal?.throwIfAborted();
  const { strategy } = table;
  const resumedRows = strategy.kind === 'resume' ? strategy.rowsCopied : 0;
  const toCopy = strategy.kind === 'converge' ? input.diff!.sourceRowsToCopy : table.rows;
  ctx.hooks.onEvent?.({ type: 'table-start', table: table.table, rows: toCopy, resumedRows });
  await startTable(ctx.target, ctx.runId, table.table);
  const guard = { signal: ctx.signal, fence: ctx.fence };
  if (strategy.kind === 'restart') await restartTable(ctx.target, ctx.runId, table.table, guard);
  // One target session for the whole table: a new connection per chunk costs a backend start
  // and cold catalog caches each time (measured: 3 s over 80 chunks of messages).
  const session = await ctx.target.session();
  const writer = chunkWriter(table, ctx, session, resumedRows, toCopy);
  let deleted = input.deleted ?? 0;
  let sourceRows = table.rows;
  try {
    switch (strategy.kind) {
      case 'fresh':
      case 'restart':
        if (strategy.kind === 'restart' || strategy.chunks === 'pages') await loadByPages(table, ctx, writer);
        else await loadByKeys(table, ctx, writer, null);
        break;
      case 'resume': {
        // The rows before the stop came from an earlier snapshot. First the target rows the source
        // no longer has go, and those holding a unique value the source gave another row (a
        // preference deleted and created again under a key after the stop would otherwise
        // collide with its old copy in the COPY that follows); then the rest is copied after the
        // key; then the whole table is compared again and what differs upserted. The foreign keys
        // are off (a resume that keeps them converges instead): the deletes need no order.
        deleted += (await deleteGone(table, await diffTable(table, ctx.source, ctx.target, ctx.batchSize), ctx.source, ctx.target, ctx.stallMs, guard)).deleted;
        await loadByKeys(table, ctx, writer, strategy.after);
        const diff = await diffTable(table, ctx.source, ctx.target, ctx.batchSize);
        await upsertDiff(table, ctx, writer, diff);
        sourceRows = diff.sourceRows;
        break;
      }
      case 'converge':
        await upsertDiff(table, ctx, writer, input.diff!);
        sourceRows = input.diff!.sourceRows;
        break;
    }
  } finally {
    await session.release();
  }
  // Every row of the snapshot must now be in the target: a cheap guard against any gap. A locked
  // store still holds what it held when the run counted it (and a count of it is not cheap).
  const counted = strategy.kind === 'converge' || strategy.kind === 'resume' || ctx.source.exclusive
    ? sourceRows
    : await ctx.source.withSnapshot(async (src) => Number((await src.query<{ n: string }>(`select count(*)::text as n from ${ident(table.table)}`))[0]!.n));
  await assertCount(table.table, counted, ctx.target);
  await finishTable(ctx.target, ctx.runId, table.table);
  const seconds = (performance.now() - started) / 1000;
  const { rows, bytes } = writer;
  const resumed = strategy.kind !== 'fresh';
  ctx.hooks.onEvent?.({ type: 'table-done', table: table.table, rows, bytes, seconds, resumed, deleted });
  await ctx.hooks.failpoint?.(`table-done:${table.table}`);
  return { table: table.table, rows, bytes, seconds, resumed, deleted };
}

interface ChunkWriter {
  /** One chunk into the target: its rows and its journal entry in one transaction. */
  write(position: ChunkPosition | null, rows: number, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, upsert: boolean): Promise<void>;
  /** Counts COPY bytes as they pass. */
  count(n: number): void;
  /** A source stream that stalled (or was stopped) fails the target's COPY too: report why. */
  streamFailed(error: unknown): void;
  readonly rows: number;
  readonly bytes: number;
}

function chunkWriter(table: PlannedTable, ctx: TableCopyContext, target: Session, resumedRows: number, total: number): ChunkWriter {
  let rows = 0;
  let bytes = 0;
  let chunk = 0;
  let done = resumedRows;
  let streamFailure: unknown;
  return {
    get rows() { return rows; },
    get bytes() { return bytes; },
    count: (n) => void (bytes += n),
    streamFailed: (error) => void (streamFailure ??= error),
    async write(position, chunkRows, data, upsert) {
      streamFailure = undefined;
      // Four round trips a chunk, whatever the mode: BEGIN with the staging table and the journal
      // entry in one message, the COPY (two: its start and its end), the upsert with COMMIT in one.
      // A failure anywhere rolls all of it back: the journal moves with the data or not at all.
      const stage = upsert ? `create temp table mosaic_stage (like ${ident(table.table)} including defaults) on commit drop; ` : '';
      try {
        await target.exec(`BEGIN; ${stage}${recordChunkSql(ctx.runId, table.table, position, chunkRows)}`);
        await target.copyFrom(`copy ${upsert ? 'mosaic_stage' : ident(table.table)} (${list(table.columns)}) from stdin (format binary)`, data);
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
      ctx.hooks.onEvent?.({ type: 'table-progress', table: table.table, rowsDone: done, rows: Math.max(total, done), bytes });
    },
  };
}

/** `copy (select <columns, deferred ones NULL> from t where ...) to stdout (format binary)` */
function copyOut(table: PlannedTable, where: string): string {
  const select = table.columns.map((c) => (table.deferred.includes(c) ? `null::${table.columnTypes[c]} as ${ident(c)}` : ident(c))).join(', ');
  return `copy (select ${select} from ${ident(table.table)} where ${where}) to stdout (format binary)`;
}

/**
 * Heap-page chunks, for a source nothing else writes to: pages are read in order (a key range on
 * random UUIDs reads them at random), and PGlite, in its own thread, exports the next range while
 * the target ingests this one. The last range is open-ended, so no row can fall off the end.
 */
async function loadByPages(table: PlannedTable, ctx: TableCopyContext, writer: ChunkWriter): Promise<void> {
  const { pages, step } = await ctx.source.withSnapshot((src) => pageChunks(src, table, ctx.batchSize));
  const fetch = (first: number) => ctx.source.withSnapshot(async (src) => {
    const last = first + step >= pages;
    const where = `ctid >= '(${first},0)'::tid${last ? '' : ` and ctid < '(${first + step},0)'::tid`}`;
    const data: Uint8Array[] = [];
    for await (const part of watched(src.copyTo(copyOut(table, where)), table.table, ctx.stallMs, writer.count, ctx.signal)) data.push(part);
    return { next: last ? undefined : first + step, rows: binaryCopyTuples(data), data };
  });
  let next: Promise<Awaited<ReturnType<typeof fetch>> | undefined> = fetch(0);
  for (;;) {
    const current = await next;
    if (!current) break;
    next = current.next === undefined ? Promise.resolve(undefined) : fetch(current.next);
    next.catch(() => {}); // if this chunk's write fails, its error is the one that counts
    if (current.rows > 0) await writer.write({ page: current.next ?? pages }, current.rows, current.data, false);
  }
}

/** Key-ordered chunks after `after` (null: from the start), each streamed from the snapshot straight into the target. */
async function loadByKeys(table: PlannedTable, ctx: TableCopyContext, writer: ChunkWriter, after: readonly string[] | null): Promise<void> {
  let lastKey = after;
  const keyRange = (last: readonly string[]) => [lastKey ? keyCompare(table, '>', lastKey) : null, keyCompare(table, '<=', last)].filter(Boolean).join(' and ');
  for (;;) {
    const more = await ctx.source.withSnapshot(async (src) => {
      const boundary = await nextBoundary(src, table, lastKey, ctx.batchSize);
      if (!boundary) return false;
      await writer.write(boundary.last, boundary.rows, watched(src.copyTo(copyOut(table, keyRange(boundary.last))), table.table, ctx.stallMs, writer.count, ctx.signal, writer.streamFailed), false);
      lastKey = boundary.last;
      return boundary.rows === ctx.batchSize;
    });
    if (!more) break;
  }
}

/** The source's rows of the differing buckets, a group of buckets per chunk, upserted (delete pass done before). */
async function upsertDiff(table: PlannedTable, ctx: TableCopyContext, writer: ChunkWriter, diff: TableDiff): Promise<void> {
  for (const group of diff.groups) {
    // A bucket of target rows only (all deleted already) has nothing to copy.
    if (group.rows === 0) continue;
    await ctx.source.withSnapshot((src) =>
      writer.write(null, group.rows, watched(src.copyTo(copyOut(table, inBuckets(table, diff.depth, group.buckets))), table.table, ctx.stallMs, writer.count, ctx.signal, writer.streamFailed), true));
  }
}
