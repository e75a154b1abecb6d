import { AdvisoryLockError, isFenceFailure } from '@mosaic/advisory-lock';
import type { Database, Session } from '@mosaic/connection';
import type { RunHooks } from './events.js';
import { finishTable, recordChunkSql, restartTable, startTable } from './journal.js';
import type { ChunkPosition } from './journal.js';
import type { PlannedTable } from './plan.js';
import type { SessionPool } from './session-pool.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { BinaryCopyCounter, binaryCopyTuples, countingTuples, watched } from './stream.js';
import { assertCount, deleteGone, diffTable, inBuckets, upsertSql } from './sync.js';
import type { TableDiff } from './sync.js';

export interface TableCopyContext {
  readonly runId: string;
  readonly source: SourceReader;
  readonly target: Database;
  /** The run's target sessions, kept between tables. */
  readonly sessions: SessionPool;
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
 *
 * The copy is shared by the jobs that copy the table (PlannedTable.jobs): `job()` is one of them
 * (its own target session; several run at once for a page-chunked table, each taking the next
 * page range until none is left, all inside the run's one snapshot); `finish()`, once every job
 * has ended, checks the count and marks the table done. The first job to start records the
 * table in the journal (and empties it for a `restart`) before any chunk of any job begins.
 */
export interface TableLoad {
  job(): Promise<void>;
  finish(): Promise<TableCopyResult>;
  /** Ends when nothing of this table runs in the background any more (the source count), whatever happened. */
  settled(): Promise<void>;
}

export function tableLoad(table: PlannedTable, ctx: TableCopyContext, input: TableCopyInput = {}): TableLoad {
  const started = performance.now();
  const { strategy } = table;
  const resumedRows = strategy.kind === 'resume' ? strategy.rowsCopied : 0;
  const toCopy = strategy.kind === 'converge' ? input.diff!.sourceRowsToCopy : table.rows;
  const guard = { signal: ctx.signal, fence: ctx.fence };
  const byPages = strategy.kind === 'restart' || (strategy.kind === 'fresh' && strategy.chunks === 'pages');
  const stats: ChunkStats = { rows: 0, bytes: 0, started: 0, committed: 0, open: 0, done: resumedRows, total: toCopy };
  let deleted = input.deleted ?? 0;
  let sourceRows = table.rows;
  let ready: Promise<PageRanges | undefined> | undefined;
  // The snapshot's row count, for finish()'s check: counted while the table loads (its own
  // session), not after. A locked store still holds what it held when the run counted it, and
  // converge and resume take theirs from the comparison.
  let counting: Promise<number> | undefined;
  // A table read as ONE open-ended page range: the rows its one stream carried are the
  // snapshot's rows, and no count of its own is needed (a small table's count was a session of
  // its own on the source, a tenth of its time).
  let whole = false;
  const count = () => {
    if (ctx.source.exclusive || (strategy.kind !== 'fresh' && strategy.kind !== 'restart')) return;
    counting = ctx.source.withSnapshot(async (src) => Number((await src.query<{ n: string }>(`select count(*)::text as n from ${ident(table.table)}`))[0]!.n));
    counting.catch(() => {}); // a failure is finish()'s to report
  };
  const begin = () => (ready ??= (async () => {
    ctx.signal?.throwIfAborted();
    ctx.hooks.onEvent?.({ type: 'table-start', table: table.table, rows: toCopy, resumedRows });
    if (!byPages) count();
    const [, chunks] = await Promise.all([
      (async () => {
        await startTable(ctx.target, ctx.runId, table.table);
        if (strategy.kind === 'restart') await restartTable(ctx.target, ctx.runId, table.table, guard);
      })(),
      byPages ? ctx.source.withSnapshot((src) => pageChunks(src, table, ctx.batchSize)) : undefined,
    ]);
    if (!chunks) return undefined;
    const ranges = pageRanges(chunks);
    whole = ranges.single;
    if (!whole) count();
    return ranges;
  })());

  return {
    async job() {
      const ranges = await begin();
      // One target session per job for the whole table: a new connection per chunk costs a
      // backend start and cold catalog caches each time (measured: 3 s over 80 chunks of messages).
      const session = await ctx.sessions.acquire();
      const writer = chunkWriter(table, ctx, session, stats);
      let clean = false;
      try {
        switch (strategy.kind) {
          case 'fresh':
          case 'restart':
            if (ranges) await (ctx.source.exclusive ? loadPagesAhead : loadPages)(table, ctx, writer, ranges);
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
        clean = true; // every chunk committed: nothing is open on the session
      } finally {
        await ctx.sessions.release(session, clean);
      }
    },
    async settled() {
      await counting?.catch(() => {});
    },
    async finish() {
      // Every row of the snapshot must now be in the target: a cheap guard against any gap. A locked
      // store still holds what it held when the run counted it (and a count of it is not cheap).
      const counted = counting ? await counting : whole ? stats.rows : sourceRows;
      await assertCount(table.table, counted, ctx.target);
      await finishTable(ctx.target, ctx.runId, table.table);
      const seconds = (performance.now() - started) / 1000;
      const { rows, bytes } = stats;
      const resumed = strategy.kind !== 'fresh';
      ctx.hooks.onEvent?.({ type: 'table-done', table: table.table, rows, bytes, seconds, resumed, deleted });
      await ctx.hooks.failpoint?.(`table-done:${table.table}`);
      return { table: table.table, rows, bytes, seconds, resumed, deleted };
    },
  };
}

/** What the jobs of one table count together. */
interface ChunkStats {
  rows: number;
  bytes: number;
  /** Chunks begun (the n of the `chunk:<table>:<n>` failpoint), committed, and open now. */
  started: number;
  committed: number;
  open: number;
  /** Rows in the target, resumed ones included; `total` to copy. */
  done: number;
  readonly total: number;
}

interface ChunkWriter {
  /**
   * One chunk into the target: its rows and its journal entry in one transaction. `rows`
   * undefined: counted from the binary COPY bytes as they pass (a chunk streamed from the source).
   */
  write(position: ChunkPosition | null, rows: number | undefined, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, upsert: boolean): Promise<void>;
  /** Counts COPY bytes as they pass. */
  count(n: number): void;
  /** A source stream that stalled (or was stopped) fails the target's COPY too: report why. */
  streamFailed(error: unknown): void;
}

function chunkWriter(table: PlannedTable, ctx: TableCopyContext, target: Session, stats: ChunkStats): ChunkWriter {
  let streamFailure: unknown;
  return {
    count: (n) => void (stats.bytes += n),
    streamFailed: (error) => void (streamFailure ??= error),
    async write(position, knownRows, data, upsert) {
      streamFailure = undefined;
      const chunk = stats.started++;
      // Four round trips a chunk, whatever the mode: BEGIN (with the staging table), the COPY (two:
      // its start and its end), then the journal entry, the upsert and COMMIT in one message. The
      // journal entry comes last so that the row it updates is locked only for that message: jobs
      // copying the same table at once do not wait for each other's COPY. A failure anywhere rolls
      // all of it back: the journal moves with the data or not at all.
      const stage = upsert ? `create temp table mosaic_stage (like ${ident(table.table)} including defaults) on commit drop; ` : '';
      stats.open++;
      let rows: number;
      try {
        await target.exec(`BEGIN; ${stage}`);
        const counter = knownRows === undefined ? new BinaryCopyCounter() : undefined;
        await target.copyFrom(`copy ${upsert ? 'mosaic_stage' : ident(table.table)} (${list(table.columns)}) from stdin (format binary)`, counter ? countingTuples(data, counter) : data);
        rows = knownRows ?? counter!.end();
        await ctx.hooks.failpoint?.(`chunk:${table.table}:${chunk}`);
        // The crash tests' way to stop a table that several jobs copy while another chunk of it
        // is open too (and at least one has committed): a no-op in production.
        if (stats.open > 1 && stats.committed > 0) await ctx.hooks.failpoint?.(`chunks-at-once:${table.table}`);
        // The last thing before COMMIT: a run that lost its lock commits nothing more. A flag, no
        // round trip (the lock's connection closing sets it at once).
        ctx.signal?.throwIfAborted();
        // The fence rides with the COMMIT: the server refuses the commit of a run that lost its
        // lock even if this process has not heard yet (a terminated lock session, Ctrl-C's unlock).
        await target.exec(`${upsert ? `${upsertSql(table)}; ` : ''}${recordChunkSql(ctx.runId, table.table, position, rows)}; ${ctx.fence ? `${ctx.fence}; ` : ''}COMMIT`);
      } catch (error) {
        await target.exec('ROLLBACK').catch(() => {});
        if (isFenceFailure(error)) {
          throw new AdvisoryLockError('LOCK_LOST', `The Mosaic lock on ${ctx.target.location.display} is no longer held by this run (the server checked it before the chunk's COMMIT): nothing of that chunk was committed. Re-run to resume.`, { cause: error });
        }
        throw streamFailure ?? error;
      } finally {
        stats.open--;
      }
      stats.rows += rows;
      stats.done += rows;
      stats.committed++;
      ctx.hooks.onEvent?.({ type: 'table-progress', table: table.table, rowsDone: stats.done, rows: Math.max(stats.total, stats.done), bytes: stats.bytes });
    },
  };
}

/** `copy (select <columns, deferred ones NULL> from t where ...) to stdout (format binary)` */
function copyOut(table: PlannedTable, where: string): string {
  const select = table.columns.map((c) => (table.deferred.includes(c) ? `null::${table.columnTypes[c]} as ${ident(c)}` : ident(c))).join(', ');
  return `copy (select ${select} from ${ident(table.table)} where ${where}) to stdout (format binary)`;
}

/** A table's heap pages handed out one range at a time, to however many jobs copy it. */
interface PageRanges {
  readonly pages: number;
  /** One range holds them all (open-ended: every row the snapshot sees). */
  readonly single: boolean;
  /** The next range not yet taken: `end` undefined for the last, open-ended one; undefined when all are taken. */
  take(): { readonly first: number; readonly end: number | undefined } | undefined;
}

function pageRanges({ pages, step }: { pages: number; step: number }): PageRanges {
  let next: number | undefined = 0;
  return {
    pages,
    single: step >= pages,
    take() {
      if (next === undefined) return undefined;
      const first = next;
      // The last range is open-ended, so no row can fall off the end.
      const end = first + step >= pages ? undefined : first + step;
      next = end;
      return { first, end };
    },
  };
}

const tidRange = (first: number, end: number | undefined) => `ctid >= '(${first},0)'::tid${end === undefined ? '' : ` and ctid < '(${end},0)'::tid`}`;

/**
 * Heap-page chunks from a PostgreSQL source, inside its exported snapshot: each range streams
 * straight from a session that imports the snapshot into this job's target session (a TID range
 * scan, pages in order; the server produces the next bytes while the target ingests these), its
 * rows counted from the COPY bytes as they pass. Several jobs may run this on one table at once, each taking
 * the next range. The journal's position then names the end of a committed range, not the first
 * page left: a stopped page copy starts over (`restart`) and never reads it.
 */
async function loadPages(table: PlannedTable, ctx: TableCopyContext, writer: ChunkWriter, ranges: PageRanges): Promise<void> {
  for (let range = ranges.take(); range; range = ranges.take()) {
    const { first, end } = range;
    ctx.signal?.throwIfAborted();
    await ctx.source.withSnapshot((src) =>
      writer.write({ page: end ?? ranges.pages }, undefined, watched(src.copyTo(copyOut(table, tidRange(first, end))), table.table, ctx.stallMs, writer.count, ctx.signal, writer.streamFailed), false));
  }
}

/**
 * Heap-page chunks from a locked PGlite store: in its own thread, PGlite exports the next range
 * (whole: COPY TO '/dev/blob') while the target ingests this one; rows are counted from the bytes.
 * Several jobs may run this on one table: the store's thread exports their ranges in turn (its
 * calls are serialized), and each job holds at most two chunks (so PGlite tables get at most
 * PGLITE_TABLE_JOBS jobs, see plan.ts). A job waiting its turn counts toward the stall timer.
 */
async function loadPagesAhead(table: PlannedTable, ctx: TableCopyContext, writer: ChunkWriter, ranges: PageRanges): Promise<void> {
  const fetch = (range: ReturnType<PageRanges['take']>) => (range === undefined ? Promise.resolve(undefined) : ctx.source.withSnapshot(async (src) => {
    const data: Uint8Array[] = [];
    for await (const part of watched(src.copyTo(copyOut(table, tidRange(range.first, range.end))), table.table, ctx.stallMs, writer.count, ctx.signal)) data.push(part);
    return { end: range.end, rows: binaryCopyTuples(data), data };
  }));
  let next = fetch(ranges.take());
  for (;;) {
    const current = await next;
    if (!current) break;
    next = fetch(ranges.take());
    next.catch(() => {}); // if this chunk's write fails, its error is the one that counts
    if (current.rows > 0) await writer.write({ page: current.end ?? ranges.pages }, current.rows, current.data, false);
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
