import type { Database, Session } from '@mosaic/connection';
import type { RunHooks } from './events.js';
import { CopyEngineError } from './errors.js';
import { finishTable, recordChunk, startTable } from './journal.js';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { watched } from './stream.js';

export interface TableCopyContext {
  readonly runId: string;
  readonly source: SourceReader;
  readonly target: Database;
  readonly batchSize: number;
  /** Re-run over rows that may exist: stage each chunk and upsert. */
  readonly upsert: boolean;
  readonly stallMs: number;
  readonly hooks: RunHooks;
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
  let lastKey = table.resume?.lastKey ?? null;
  let done = table.resume?.rowsCopied ?? 0;
  const resumed = table.resume !== null;
  let rows = 0;
  let bytes = 0;
  let chunk = 0;
  ctx.hooks.onEvent?.({ type: 'table-start', table: table.table, rows: table.rows, resumedRows: done });
  await startTable(ctx.target, ctx.runId, table.table);
  const select = table.columns.map((c) => (table.deferred.includes(c) ? `null::${table.columnTypes[c]} as ${ident(c)}` : ident(c))).join(', ');
  const into = ctx.upsert ? 'mosaic_stage' : ident(table.table);

  type Boundary = NonNullable<Awaited<ReturnType<typeof nextBoundary>>>;
  const copyOut = (after: readonly string[] | null, boundary: Boundary) => {
    const range = [after ? keyCompare(table, '>', after) : null, keyCompare(table, '<=', boundary.last)].filter(Boolean).join(' and ');
    return `copy (select ${select} from ${ident(table.table)} where ${range}) to stdout (format binary)`;
  };
  /** One chunk into the target: its rows and its journal entry in one transaction. */
  const write = async (boundary: Boundary, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) => {
    await ctx.target.transaction(async (session: Session) => {
      if (ctx.upsert) await session.exec(`create temp table mosaic_stage (like ${ident(table.table)} including defaults) on commit drop`);
      await session.copyFrom(`copy ${into} (${list(table.columns)}) from stdin (format binary)`, data);
      if (ctx.upsert) await session.exec(upsertSql(table));
      await recordChunk(session, ctx.runId, table.table, boundary.last, boundary.rows);
      await ctx.hooks.failpoint?.(`chunk:${table.table}:${chunk}`);
    });
    lastKey = boundary.last;
    rows += boundary.rows;
    done += boundary.rows;
    chunk++;
    ctx.hooks.onEvent?.({ type: 'table-progress', table: table.table, rowsDone: done, rows: Math.max(table.rows, done), bytes });
  };

  if (ctx.source.materialized) {
    // The source hands each chunk over whole (PGlite): read the next one while the target
    // ingests this one, so the single-threaded source and the server work at the same time.
    const fetch = (after: readonly string[] | null) => ctx.source.withSnapshot(async (src) => {
      const boundary = await nextBoundary(src, table, after, ctx.batchSize);
      if (!boundary) return undefined;
      const data: Uint8Array[] = [];
      for await (const part of watched(src.copyTo(copyOut(after, boundary)), table.table, ctx.stallMs, (n) => (bytes += n))) data.push(part);
      return { boundary, data };
    });
    let next = fetch(lastKey);
    for (;;) {
      const current = await next;
      if (!current) break;
      next = current.boundary.rows === ctx.batchSize ? fetch(current.boundary.last) : Promise.resolve(undefined);
      next.catch(() => {}); // if this chunk's write fails, its error is the one that counts
      await write(current.boundary, current.data);
    }
  } else {
    // A server source streams each chunk from its snapshot straight into the target.
    for (;;) {
      const more = await ctx.source.withSnapshot(async (src) => {
        const boundary = await nextBoundary(src, table, lastKey, ctx.batchSize);
        if (!boundary) return false;
        await write(boundary, watched(src.copyTo(copyOut(lastKey, boundary)), table.table, ctx.stallMs, (n) => (bytes += n)));
        return boundary.rows === ctx.batchSize;
      });
      if (!more) break;
    }
  }
  // Every row of the snapshot must now be in the target: a cheap guard against any gap.
  const [sourceCount, targetCount] = await Promise.all([
    ctx.source.withSnapshot(async (src) => Number((await src.query<{ n: string }>(`select count(*)::text as n from ${ident(table.table)}`))[0]!.n)),
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
