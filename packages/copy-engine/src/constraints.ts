import { isMosaicError } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { loadDdl, primaryKeyDdl } from '@mosaic/schema';
import type { LoadDdl, Tier } from '@mosaic/schema';
import { CopyEngineError } from './errors.js';
import { ident } from './sql.js';

/**
 * Foreign keys and secondary indexes are off while a fresh target loads, and put back at the
 * end, as pg_restore does: one validation query per foreign key and one index build cost far
 * less than a foreign-key check per row and an HNSW insert per vector. Without the foreign
 * keys, self-references (messages.parent_id) and the users <-> teams cycle load as they are,
 * with no NULL-then-UPDATE pass. The list comes from the tier's migrations, so a run that
 * stopped half-way puts back exactly what the schema defines, whoever dropped it.
 */

/** The load DDL of the copied tables that the target lacks right now (primary keys included). */
export async function missingLoadDdl(target: Database, tier: Tier, tables: readonly string[]): Promise<LoadDdl[]> {
  const wanted = [...primaryKeyDdl(tier), ...loadDdl(tier)].filter((d) => tables.includes(d.table));
  const present = await target.query<{ kind: string; name: string }>(`
    select case contype when 'f' then 'foreign-key' else 'primary-key' end as kind, conname::text as name
      from pg_constraint where contype in ('f', 'p') and connamespace = 'public'::regnamespace
    union all
    select 'index', relname::text from pg_class where relkind = 'i' and relnamespace = 'public'::regnamespace`);
  const have = new Set(present.map((p) => `${p.kind} ${p.name}`));
  return wanted.filter((d) => !have.has(`${d.kind} ${d.name}`));
}

/**
 * Drops the copied tables' foreign keys and secondary indexes, and the primary keys of
 * `keyless` (tables loaded by heap pages: nothing looks their rows up by key until they are in),
 * in one transaction. A primary key that a foreign key still needs (one from a table that is not
 * copied: sessions -> users) stays. Returns false, changing nothing, when this role may not (it
 * does not own the tables): the load then runs with them on, deferring the self-references instead.
 */
export async function relaxForLoad(target: Database, tier: Tier, tables: readonly string[], keyless: readonly string[] = []): Promise<boolean> {
  const ddl = loadDdl(tier).filter((d) => tables.includes(d.table));
  const keys = primaryKeyDdl(tier).filter((d) => keyless.includes(d.table));
  try {
    await target.transaction(async (tx) => {
      for (const d of ddl) {
        await tx.exec(d.kind === 'foreign-key'
          ? `alter table ${ident(d.table)} drop constraint if exists ${ident(d.name)}`
          : `drop index if exists ${ident(d.name)}`);
      }
      for (const d of keys) {
        const [needed] = await tx.query<{ n: number }>(
          `select count(*)::int as n from pg_constraint where contype = 'f' and confrelid = to_regclass($1)`, [`public.${ident(d.table)}`]);
        if (needed!.n === 0) await tx.exec(`alter table ${ident(d.table)} drop constraint if exists ${ident(d.name)}`);
      }
    });
    return true;
  } catch (error) {
    if (isMosaicError(error) && error.sqlState === '42501') return false;
    throw error;
  }
}

/** A vector index (HNSW, IVFFlat): the one build that takes longer than the copy of its table. */
export const isVectorIndex = (d: LoadDdl): boolean => d.kind === 'index' && /\busing\s+(hnsw|ivfflat)\b/i.test(d.sql);

/** A foreign key or index put back after the load, and how long it took. */
export interface RebuiltDdl {
  readonly table: string;
  readonly name: string;
  readonly kind: LoadDdl['kind'];
  readonly seconds: number;
}

/**
 * Adds the missing primary keys, builds the missing indexes, then adds the missing foreign keys,
 * each validated against every row (one query), of the given tables (`kinds` limits which). The
 * builds get working memory for themselves: a primary key sorts in memory, HNSW builds several
 * times faster when the graph fits (pgvector warns otherwise), and a vector index gets parallel
 * workers. Throws CONSTRAINT_FAILED when copied rows break a foreign key or repeat a key.
 */
export async function restoreAfterLoad(
  target: Database, tier: Tier, tables: readonly string[], kinds: ReadonlyArray<LoadDdl['kind']> = ['primary-key', 'index', 'foreign-key'], signal?: AbortSignal, names?: ReadonlySet<string>,
): Promise<RebuiltDdl[]> {
  const missing = (await missingLoadDdl(target, tier, tables)).filter((d) => kinds.includes(d.kind) && (!names || names.has(d.name)));
  if (missing.length === 0) return [];
  const done: RebuiltDdl[] = [];
  const session = await target.session();
  try {
    await session.exec("set maintenance_work_mem = '1GB'");
    const order: ReadonlyArray<LoadDdl['kind']> = ['primary-key', 'index', 'foreign-key'];
    for (const d of order.flatMap((kind) => missing.filter((m) => m.kind === kind))) {
      signal?.throwIfAborted();
      const started = performance.now();
      try {
        // A vector index builds with parallel workers (pgvector 0.6+), which PostgreSQL plans
        // from the heap's size and so never gives a table whose vectors sit in TOAST: ask for
        // them, in the build's own transaction (measured: HNSW on 20k x 1536, 40 s -> 25 s).
        await session.exec(isVectorIndex(d)
          ? `begin; alter table "${d.table}" set (parallel_workers = 2); ${d.sql}; alter table "${d.table}" reset (parallel_workers); commit`
          : d.sql);
      } catch (error) {
        if (isVectorIndex(d)) await session.exec('rollback').catch(() => {});
        if (isMosaicError(error) && error.sqlState === '23503') {
          throw new CopyEngineError('CONSTRAINT_FAILED', `${d.table}: foreign key ${d.name} does not hold for the copied rows (${(error as Error).message}). The run stays open; fix the source and re-run.`, { cause: error });
        }
        if (isMosaicError(error) && error.sqlState === '23505') {
          throw new CopyEngineError('CONSTRAINT_FAILED', `${d.table}: primary key ${d.name} does not hold for the copied rows (${(error as Error).message}). The run stays open; migrate into an empty database (drop and create the target again).`, { cause: error });
        }
        throw error;
      }
      done.push({ table: d.table, name: d.name, kind: d.kind, seconds: (performance.now() - started) / 1000 });
    }
  } finally {
    await session.release();
  }
  return done;
}

/**
 * Foreign keys added while the load goes on, each as soon as both of its tables are loaded and
 * indexed (`ready`), one at a time on a session of its own: the validation of a big table's keys
 * (messages' parent and conversation: a scan of messages each) no longer waits for the last small
 * table. Serial because ADD FOREIGN KEY locks both of its tables (SHARE ROW EXCLUSIVE): two at
 * once could each hold one table the other waits for; a finished table is touched by nothing else.
 * `done()` waits for every key added so far and rethrows the first failure (CONSTRAINT_FAILED);
 * whatever was never ready is left to the final restoreAfterLoad.
 */
export interface EarlyForeignKeys {
  ready(table: string): void;
  done(): Promise<RebuiltDdl[]>;
}

export function earlyForeignKeys(target: Database, tier: Tier, tables: readonly string[], signal: AbortSignal, onFail: (error: unknown) => void): EarlyForeignKeys {
  const pending = loadDdl(tier).filter((d) => d.kind === 'foreign-key' && tables.includes(d.table) && tables.includes(d.references!));
  const loaded = new Set<string>();
  const added: RebuiltDdl[] = [];
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  return {
    ready(table) {
      loaded.add(table);
      const now = pending.filter((d) => loaded.has(d.table) && loaded.has(d.references!));
      if (now.length === 0 || failure !== undefined) return;
      for (const d of now) pending.splice(pending.indexOf(d), 1);
      const names = new Set(now.map((d) => d.name));
      chain = chain.then(async () => {
        if (failure !== undefined || signal.aborted) return;
        try {
          added.push(...(await restoreAfterLoad(target, tier, [...new Set(now.map((d) => d.table))], ['foreign-key'], signal, names)));
        } catch (error) {
          failure ??= error;
          onFail(error);
        }
      });
    },
    async done() {
      await chain;
      if (failure !== undefined) throw failure;
      return added;
    },
  };
}
