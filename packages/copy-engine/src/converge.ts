import type { Database, Queryable } from '@mosaic/connection';
import { CopyEngineError } from './errors.js';
import type { JournalRun } from './journal.js';
import { ident } from './sql.js';

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
