import type { Database, Queryable, Session } from '@mosaic/connection';
import { CopyEngineError } from './errors.js';
import type { JournalRun } from './journal.js';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { watched } from './stream.js';

/**
 * The delete pass of a converge run: deletes the target rows of one table whose primary key is
 * no longer in the source snapshot. The source's keys (and its ON DELETE NO ACTION foreign-key
 * columns) stream in binary into a temp table, and one DELETE ... WHERE NOT EXISTS removes the
 * rest, in one transaction. Values never pass through JS. Idempotent: a stopped run re-does it.
 *
 * Run over the tables children first (reverse MIGRATION_ORDER), before any upsert: a child's
 * rows are gone before its parent's, so a NO ACTION foreign key never sees an orphan; a CASCADE
 * or SET NULL one acts on target rows the source no longer has in that form either (the upserts
 * after put back what the source has); one DELETE per table covers self-references; and a row
 * re-created in the source under a new key (same unique values) meets no old copy when upserted.
 * A target row whose NO ACTION column differs from the source's (re-pointed to another parent,
 * the old one maybe deleted) is deleted too and upserted back: its old parent can then go.
 */
export async function deleteGone(table: PlannedTable, source: SourceReader, target: Database, stallMs: number): Promise<number> {
  const kept = [...table.primaryKey, ...table.noActionColumns];
  const copyOut = `copy (select ${list(kept)} from ${ident(table.table)}) to stdout (format binary)`;
  let streamFailure: unknown;
  return source.withSnapshot(async (src) =>
    target.transaction(async (session: Session) => {
      const defs = kept.map((c) => `${ident(c)} ${table.columnTypes[c]}`).join(', ');
      await session.exec(`create temp table mosaic_keep (${defs}) on commit drop`);
      await session.copyFrom('copy mosaic_keep from stdin (format binary)', watched(src.copyTo(copyOut), `${table.table} (keys)`, stallMs, () => {}, undefined, (error) => void (streamFailure ??= error)));
      // A temp table has no statistics: without them the planner may pick a nested loop.
      await session.exec('analyze mosaic_keep');
      const match = [...table.primaryKey.map((k) => `k.${ident(k)} = t.${ident(k)}`), ...table.noActionColumns.map((c) => `k.${ident(c)} is not distinct from t.${ident(c)}`)].join(' and ');
      const [row] = await session.query<{ n: string }>(
        `with gone as (delete from ${ident(table.table)} t where not exists (select 1 from mosaic_keep k where ${match}) returning 1) select count(*)::text as n from gone`,
      );
      return Number(row!.n);
    }).catch((error: unknown) => {
      throw streamFailure ?? error;
    }));
}

/** xmin is a 32-bit transaction id: compared modulo 2^32 with the watermark's low 32 bits. */
const XID_SPACE = 4294967296n;

/** What a table looks like against the watermark of the finished run. */
export interface TargetChange {
  readonly table: string;
  /** Rows now in the table whose row version is newer than the finished run (inserted or updated since). */
  readonly written: number;
  readonly rowsAtFinish: number;
  readonly rows: number;
}

/** About how many rows changed: new row versions, or rows of the finish gone (updated or deleted), whichever is more. */
export const changedRows = (c: TargetChange): number => Math.max(c.written, c.rowsAtFinish - (c.rows - c.written));

/**
 * Which copied tables of the target were written since its finished run: one scan of each
 * table counts its rows and the rows whose xmin is newer than the transaction that finished
 * the run (an insert or an update makes a new row version with the writer's xid; a delete
 * shows as a count below the one recorded then). Works while fewer than 2^31 transactions
 * have passed since the run (xmin is 32 bits; a frozen row keeps its xmin since PG 9.4).
 * Returns nothing for a run recorded before watermarks existed.
 */
export async function targetChanges(db: Queryable, journal: JournalRun, tables: readonly string[]): Promise<TargetChange[]> {
  if (journal.finishedXid === null) return [];
  const watermark = (BigInt(journal.finishedXid) % XID_SPACE).toString();
  const changes: TargetChange[] = [];
  for (const table of tables) {
    const rowsAtFinish = journal.tables.get(table)?.rowsAtFinish;
    if (rowsAtFinish === null || rowsAtFinish === undefined) continue;
    const [row] = await db.query<{ n: string; written: string }>(
      `select count(*)::text as n,
              count(*) filter (where (xmin::text::bigint - ${watermark} + ${XID_SPACE}) % ${XID_SPACE} between 1 and ${XID_SPACE / 2n - 1n})::text as written
         from ${ident(table)}`,
    );
    const change = { table, written: Number(row!.written), rowsAtFinish, rows: Number(row!.n) };
    if (change.written > 0 || change.rows !== change.rowsAtFinish) changes.push(change);
  }
  return changes;
}

/** Refuses a converge run into a target written since its finished run (a live target). */
export async function assertTargetUnchanged(db: Database, journal: JournalRun, tables: readonly string[]): Promise<void> {
  const changes = await targetChanges(db, journal, tables);
  if (changes.length === 0) return;
  const rows = (n: number) => `${n} ${n === 1 ? 'row' : 'rows'}`;
  const named = changes.map((c) => `${c.table} (about ${rows(changedRows(c))})`).join(', ');
  throw new CopyEngineError(
    'TARGET_CHANGED_SINCE_RUN',
    `The target ${db.location.display} was written since the migration from this source finished: ${named}. A re-run would replace those changes with the source's rows; nothing was written. Leave the target as it is (it is live), or pass --overwrite-target-changes to make it equal to the source again.`,
  );
}
