import type { Database, Session } from '@mosaic/connection';
import { bucketSums, keyText } from './checksum.js';
import type { Bucket, TableShape } from './checksum.js';
import { CopyEngineError } from './errors.js';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { watched } from './stream.js';

/**
 * The `converge` strategy: a table whose target rows came from an earlier snapshot is made equal
 * to this run's snapshot by moving only what differs. Both sides compute per-bucket checksums
 * (rows grouped by the md5 of their key, as `verify` does; a bucket's sum is order-independent),
 * in the database, at once; a bucket whose count or sum differs is re-done: target rows there
 * whose key the source no longer has are deleted, then the source's rows there are upserted
 * (a row identical byte for byte is not rewritten). A stopped converge needs no journal position:
 * the next run's checksums name what is still different.
 */

/** What differs in one table between the source snapshot and the target. */
export interface TableDiff {
  readonly table: string;
  /** Hex digits of the key's md5 that name a bucket. */
  readonly depth: number;
  /** Differing buckets, grouped so that each group holds at most about a chunk of source rows (`rows`). */
  readonly groups: readonly { readonly buckets: readonly string[]; readonly rows: number }[];
  /** Rows of the source snapshot, all buckets. */
  readonly sourceRows: number;
  /** Rows of the target when compared. */
  readonly targetRows: number;
  /** Source rows in the differing buckets: what the upserts will stage. */
  readonly sourceRowsToCopy: number;
  readonly buckets: number;
  readonly differing: number;
}

/**
 * Buckets of about 8 rows (so 1% of rows changed at random re-copies about 8% of them), at most
 * 16^4 = 65,536 per table: each side's sums then stay a few MB.
 */
export function bucketDepth(rows: number): number {
  return Math.min(4, Math.max(1, Math.ceil(Math.log(Math.max(rows, 1) / 8) / Math.log(16))));
}

const shapeOf = (table: PlannedTable): TableShape => ({ table: table.table, key: table.primaryKey, columns: table.columns });

/** `left(md5(key text), depth) = any('{...}')`: the rows of some buckets (a hashed lookup on PostgreSQL 14+). */
export function inBuckets(table: PlannedTable, depth: number, buckets: readonly string[], alias?: string): string {
  const key = alias ? keyText(shapeOf(table)).replace(/"([^"]+)"/g, (_m, c: string) => `${alias}."${c}"`) : keyText(shapeOf(table));
  return `left(md5(${key}), ${depth}) = any('{${buckets.map((b) => b.replace(/[^0-9a-f]/g, '')).join(',')}}'::text[])`;
}

export async function diffTable(table: PlannedTable, source: SourceReader, target: Database, batchSize: number): Promise<TableDiff> {
  const shape = shapeOf(table);
  const [targetCount] = await target.query<{ n: string }>(`select reltuples::bigint::text as n from pg_class where oid = '${ident(table.table)}'::regclass`);
  const depth = bucketDepth(Math.max(table.rows, Number(targetCount?.n ?? 0)));
  const [s, t] = await Promise.all([
    source.withSnapshot((src) => bucketSums(src, shape, [''], depth)),
    bucketSums(target, shape, [''], depth),
  ]);
  const same = (a: Bucket | undefined, b: Bucket | undefined) => a?.rows === b?.rows && a?.sum === b?.sum;
  const differing = [...new Set([...s.keys(), ...t.keys()])].filter((b) => !same(s.get(b), t.get(b))).sort();
  const groups: { buckets: string[]; rows: number }[] = [];
  for (const bucket of differing) {
    const n = s.get(bucket)?.rows ?? 0;
    const last = groups.at(-1);
    if (last && last.rows + n <= batchSize) {
      last.buckets.push(bucket);
      last.rows += n;
    } else groups.push({ buckets: [bucket], rows: n });
  }
  const total = (m: Map<string, Bucket>) => [...m.values()].reduce((n, b) => n + b.rows, 0);
  return {
    table: table.table, depth, groups, sourceRows: total(s), targetRows: total(t), sourceRowsToCopy: differing.reduce((n, b) => n + (s.get(b)?.rows ?? 0), 0),
    buckets: new Set([...s.keys(), ...t.keys()]).size, differing: differing.length,
  };
}

/**
 * Deletes the target rows of the differing buckets whose key the source snapshot no longer has,
 * in one transaction: the source's keys there (and its ON DELETE NO ACTION foreign-key columns)
 * stream in binary into a temp table, one DELETE ... WHERE NOT EXISTS removes the rest. A target
 * row whose NO ACTION column differs from the source's (re-pointed, its old parent maybe gone)
 * goes too and is upserted back, so that the old parent can be deleted. Run over the tables
 * children first, before any upsert (see run.ts). Returns the rows deleted, and how many of
 * them the source still has (re-pointed: they come back with the upserts, but what their
 * deletion cascaded to in the target must be compared again).
 */
export async function deleteGone(table: PlannedTable, diff: TableDiff, source: SourceReader, target: Database, stallMs: number, guard: CommitGuard = {}): Promise<{ deleted: number; repointed: number }> {
  if (diff.differing === 0) return { deleted: 0, repointed: 0 };
  const uniques = (await uniqueKeys(target, table.table)).filter((u) => u.every((c) => table.columns.includes(c)));
  const kept = [...new Set([...table.primaryKey, ...table.noActionColumns, ...uniques.flat()])];
  const buckets = diff.groups.flatMap((g) => g.buckets);
  const copyOut = `copy (select ${list(kept)} from ${ident(table.table)} where ${inBuckets(table, diff.depth, buckets)}) to stdout (format binary)`;
  let streamFailure: unknown;
  return source.withSnapshot(async (src) =>
    target.transaction(async (session: Session) => {
      const defs = kept.map((c) => `${ident(c)} ${table.columnTypes[c]}`).join(', ');
      await session.exec(`create temp table mosaic_keep (${defs}) on commit drop`);
      await session.copyFrom('copy mosaic_keep from stdin (format binary)', watched(src.copyTo(copyOut), `${table.table} (keys)`, stallMs, () => {}, guard.signal, (error) => void (streamFailure ??= error)));
      // A temp table has no statistics: without them the planner may pick a nested loop.
      await session.exec('analyze mosaic_keep');
      const match = [...table.primaryKey.map((k) => `k.${ident(k)} = t.${ident(k)}`), ...table.noActionColumns.map((c) => `k.${ident(c)} is not distinct from t.${ident(c)}`)].join(' and ');
      // A unique value the source moved to another row (an email given up by one user and taken
      // by another, both still there): the target row that holds it now goes too, and comes back
      // with the upserts, so that the new holder can be inserted.
      const pk = (alias: string) => `row(${table.primaryKey.map((k) => `${alias}.${ident(k)}`).join(', ')})`;
      const taken = uniques.map((u) => `exists (select 1 from mosaic_keep k where ${u.map((c) => `k.${ident(c)} = t.${ident(c)}`).join(' and ')} and ${pk('k')} <> ${pk('t')})`);
      // A join, not EXISTS per deleted row: that was a scan of mosaic_keep per row (6 s for 3,030
      // messages against 81,000 staged keys at scale 1000). One key per row there: no duplicates.
      const keyMatch = table.primaryKey.map((k) => `k.${ident(k)} = gone.${ident(k)}`).join(' and ');
      const pkCols = table.primaryKey.map((k) => `t.${ident(k)}`).join(', ');
      await session.exec(`create temp table mosaic_gone on commit drop as select ${pkCols} from ${ident(table.table)} t
                            where ${inBuckets(table, diff.depth, buckets, 't')}
                              and (not exists (select 1 from mosaic_keep k where ${match})${taken.map((x) => ` or ${x}`).join('')})`);
      await session.exec('analyze mosaic_gone');
      const [gone] = await session.query<{ n: string }>('select count(*)::text as n from mosaic_gone');
      if (Number(gone!.n) === 0) {
        await commitGuard(session, guard);
        return { deleted: 0, repointed: 0 };
      }
      // Each deleted row fires the foreign-key triggers of the tables that reference it, and one
      // that references it through columns no index leads with scans the whole referencing table
      // per row (messages.parent_id, appreciations.message_id: 22 s for 600 messages at scale
      // 200). Past a few rows, an index built for this transaction and dropped in it is far
      // cheaper (a crash leaves nothing: it is never committed).
      const helpers = Number(gone!.n) >= HELPER_INDEX_ROWS ? await unindexedReferences(session, table.table) : [];
      for (const [i, ref] of helpers.entries()) await session.exec(`create index mosaic_converge_fk_${i} on ${ident(ref.table)} (${list(ref.columns)})`);
      const [row] = await session.query<{ n: string; repointed: string }>(
        `with gone as (delete from ${ident(table.table)} t using mosaic_gone g where ${table.primaryKey.map((k) => `g.${ident(k)} = t.${ident(k)}`).join(' and ')}
                       returning ${pkCols})
         select count(*)::text as n, count(k.${ident(table.primaryKey[0]!)})::text as repointed from gone left join mosaic_keep k on ${keyMatch}`,
      );
      for (const i of helpers.keys()) await session.exec(`drop index mosaic_converge_fk_${i}`);
      await commitGuard(session, guard);
      return { deleted: Number(row!.n), repointed: Number(row!.repointed) };
    }).catch((error: unknown) => {
      throw streamFailure ?? error;
    }));
}

/** What must hold for a destructive transaction of the run to commit: the run not stopped, its lock still held. */
export interface CommitGuard {
  readonly signal?: AbortSignal | undefined;
  /** HeldLock.fenceSql: fails on the server unless the run's lock is still held. */
  readonly fence?: string | undefined;
}

/** The last statements of a guarded transaction: a stopped run, or one whose lock is gone, commits nothing. */
export async function commitGuard(session: Pick<Session, 'exec'>, guard: CommitGuard): Promise<void> {
  guard.signal?.throwIfAborted();
  if (guard.fence) await session.exec(guard.fence);
}

/** Deleted rows past which the delete pass builds its helper indexes (each is about a few scans of the referencing table). */
const HELPER_INDEX_ROWS = 8;

/** Foreign keys in the target that reference `table` through columns no index leads with. */
async function unindexedReferences(session: Pick<Session, 'query'>, table: string): Promise<{ table: string; columns: string[] }[]> {
  const rows = await session.query<{ tbl: string; cols: string }>(
    `select c.conrelid::regclass::text as tbl,
            (select string_agg(a.attname, ',' order by k.n) from unnest(c.conkey) with ordinality k(attnum, n)
               join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as cols
       from pg_constraint c
      where c.contype = 'f' and c.confrelid = '${ident(table)}'::regclass
        and not exists (select 1 from pg_index i where i.indrelid = c.conrelid and i.indpred is null
                          and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)`,
  );
  return rows.map((r) => ({ table: r.tbl.replace(/^"|"$/g, ''), columns: r.cols.split(',') }));
}

/** The target's unique constraints and indexes on plain columns (the primary key aside), as column lists. */
async function uniqueKeys(target: Database, table: string): Promise<string[][]> {
  const rows = await target.query<{ cols: string }>(
    `select (select string_agg(a.attname, ',' order by k.n) from unnest(i.indkey) with ordinality k(attnum, n)
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) as cols
       from pg_index i where i.indrelid = '${ident(table)}'::regclass and i.indisunique and not i.indisprimary and i.indexprs is null and i.indpred is null`,
  );
  return rows.map((r) => r.cols.split(','));
}

/**
 * Upsert of a staged chunk. A row that is already there byte for byte (compared as text, so a
 * jsonb 2406.60 differs from 2406.6) is left alone: no new row version, no index entry, no
 * trigger. Deferred columns are staged NULL and are neither written nor compared here; the
 * deferred pass sets them.
 */
export function upsertSql(table: PlannedTable): string {
  const cols = list(table.columns);
  const compared = table.columns.filter((c) => !table.primaryKey.includes(c) && !table.deferred.includes(c));
  const updates = compared.map((c) => `${ident(c)} = excluded.${ident(c)}`);
  const overriding = table.identity.length > 0 ? ' overriding system value' : '';
  const differs = `row(${compared.map((c) => `t.${ident(c)}`).join(', ')})::text is distinct from row(${compared.map((c) => `excluded.${ident(c)}`).join(', ')})::text`;
  const onConflict = updates.length > 0 ? `do update set ${updates.join(', ')} where ${differs}` : 'do nothing';
  return `insert into ${ident(table.table)} as t (${cols})${overriding} select ${cols} from mosaic_stage on conflict (${list(table.primaryKey)}) ${onConflict}`;
}

/** Every row of the snapshot must now be in the target: a cheap guard against any gap. */
export async function assertCount(table: string, sourceRows: number, target: Database): Promise<void> {
  const [row] = await target.query<{ n: string }>(`select count(*)::text as n from ${ident(table)}`);
  const targetRows = Number(row!.n);
  if (sourceRows !== targetRows) {
    throw new CopyEngineError('COPY_MISMATCH', `${table}: the source snapshot has ${sourceRows} rows, the target ${targetRows} after the copy. Nothing was marked done; re-run to converge, and report this.`);
  }
}

/**
 * Tables to compare again after the delete pass. Run children first, the pass deletes every row
 * the source no longer has before its parent goes, so a cascade in the target finds nothing
 * the source kept, with two exceptions: a re-pointed row deleted on purpose (its key is in the
 * source), and a CASCADE child the source re-pointed (deleted with its old parent). Both are
 * upserted back, but what their deletion cascaded to (children deleted, SET NULL columns
 * cleared) was identical when compared. So: the tables that lost such rows (`repointed`, or
 * more rows than their own deletes: a cascade), every table below them through CASCADE foreign
 * keys, and the tables one SET NULL key below any of those. With foreign keys off nothing cascades.
 */
export function touchedByCascades(hit: ReadonlySet<string>, edges: readonly { table: string; references: string; onDelete: string }[]): Set<string> {
  const touched = new Set(hit);
  // Rows deleted go on cascading; a SET NULL only changes its rows: its table is touched, and ends there.
  const deleting = [...hit];
  const expanded = new Set<string>();
  while (deleting.length > 0) {
    const parent = deleting.pop()!;
    if (expanded.has(parent)) continue;
    expanded.add(parent);
    for (const e of edges) {
      if (e.references !== parent) continue;
      if (e.onDelete === 'cascade') {
        touched.add(e.table);
        deleting.push(e.table);
      } else if (e.onDelete === 'set null') touched.add(e.table);
    }
  }
  return touched;
}
