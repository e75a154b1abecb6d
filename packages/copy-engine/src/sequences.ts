import type { Database } from '@mosaic/connection';
import type { PlannedTable } from './plan.js';
import type { SourceReader } from './source.js';

const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * Moves each identity/serial sequence of the target past the copied maximum, and past the
 * source sequence's own position (ids the source handed out and then deleted are never reused),
 * and never below the target sequence's own position: a sequence never moves backwards.
 */
export async function resetSequence(table: PlannedTable, column: string, source: SourceReader, target: Database): Promise<string> {
  const seqOf = `pg_get_serial_sequence(${quoteLiteral(`public.${table.table}`)}, ${quoteLiteral(column)})`;
  const sourceLast = await source.withSnapshot(async (src) => {
    const [seq] = await src.query<{ name: string | null }>(`select ${seqOf} as name`);
    if (!seq?.name) return null;
    const [row] = await src.query<{ last: string; called: boolean }>(`select last_value::text as last, is_called as called from ${seq.name}`);
    return row?.called ? row.last : null;
  });
  // The target's own position counts too: ids it handed out itself (a live target, overwritten
  // with --overwrite-target-changes) are never handed out again.
  const [seq] = await target.query<{ name: string }>(`select ${seqOf} as name`);
  const [own] = await target.query<{ last: string; called: boolean }>(`select last_value::text as last, is_called as called from ${seq!.name}`);
  const targetLast = own?.called ? own.last : '0';
  const [row] = await target.query<{ value: string }>(
    `select setval(${seqOf}, greatest(coalesce((select max("${column}") from "${table.table}"), 0), $1::bigint, $2::bigint, 1),
                   (select count(*) > 0 from "${table.table}") or $1::bigint > 0 or $2::bigint > 0)::text as value`,
    [sourceLast ?? '0', targetLast],
  );
  return row!.value;
}
