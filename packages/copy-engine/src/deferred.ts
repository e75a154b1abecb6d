import type { Database, Session } from '@mosaic/connection';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';
import { ident, list } from './sql.js';
import { watched } from './stream.js';
import { commitGuard } from './sync.js';
import type { CommitGuard } from './sync.js';

/**
 * Restores the columns loaded NULL (tasks.parent_id, messages.parent_id, users.active_team_id)
 * once every row is in: their values stream from the source snapshot into a temp table, and
 * one UPDATE sets them. Idempotent (only rows that differ are touched); needs no superuser.
 */
export async function restoreDeferred(table: PlannedTable, column: string, source: SourceReader, target: Database, stallMs: number, rowsThere?: string, guard: CommitGuard = {}): Promise<void> {
  const keys = list(table.primaryKey);
  // After a fresh load the column is NULL everywhere: only the set values need to move. Over
  // rows that were there before (a converge run: `rowsThere`, the differing buckets), a value
  // the source has since cleared must be cleared too, so every row's value there moves.
  const where = rowsThere ? `where ${rowsThere}` : `where ${ident(column)} is not null`;
  const copyOut = `copy (select ${keys}, ${ident(column)} from ${ident(table.table)} ${where}) to stdout (format binary)`;
  let streamFailure: unknown;
  await source.withSnapshot(async (src) => {
    await target.transaction(async (session: Session) => {
      const defs = [...table.primaryKey.map((k, i) => `${ident(k)} ${table.keyTypes[i]}`), `mosaic_value ${table.columnTypes[column]}`].join(', ');
      await session.exec(`create temp table mosaic_deferred (${defs}) on commit drop`);
      await session.copyFrom('copy mosaic_deferred from stdin (format binary)', watched(src.copyTo(copyOut), `${table.table}.${column}`, stallMs, () => {}, undefined, (error) => void (streamFailure ??= error)));
      const match = table.primaryKey.map((k) => `t.${ident(k)} = d.${ident(k)}`).join(' and ');
      await session.exec(`update ${ident(table.table)} t set ${ident(column)} = d.mosaic_value from mosaic_deferred d where ${match} and t.${ident(column)}::text is distinct from d.mosaic_value::text`);
      await commitGuard(session, guard);
    }).catch((error: unknown) => {
      // A stalled source fails the target's COPY too: report the stall.
      throw streamFailure ?? error;
    });
  });
}
