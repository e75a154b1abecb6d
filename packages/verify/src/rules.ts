import type { Queryable } from '@mosaic/connection';
import { SKIPPED_TABLES, tableGraph } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';

export interface RuleVerdict {
  readonly rule: 'skipped-tables-empty' | 'embeddings' | 'sequences' | 'foreign-keys';
  readonly ok: boolean;
  readonly detail: string;
}

/** Skipped tables (sessions, verifications, admin_tokens) hold nothing on the target. */
export async function skippedTablesEmpty(target: Queryable): Promise<RuleVerdict> {
  const tables = Object.keys(SKIPPED_TABLES);
  const rows = await target.query<{ t: string; n: string }>(tables.map((t) => `select '${t}' as t, count(*)::text as n from "${t}"`).join(' union all '));
  const filled = rows.filter((r) => r.n !== '0');
  return { rule: 'skipped-tables-empty', ok: filled.length === 0, detail: filled.length === 0 ? `${tables.join(', ')} empty` : filled.map((r) => `${r.t} has ${r.n} rows`).join('; ') };
}

/** Without vectors in the source, every target embedding is NULL (with them, checksums compare them). */
export async function embeddingsNull(target: Queryable): Promise<RuleVerdict> {
  const [row] = await target.query<{ n: string }>('select count(*)::text as n from insights where embedding is not null');
  return { rule: 'embeddings', ok: row?.n === '0', detail: row?.n === '0' ? 'insights.embedding NULL on every row (the source has no vectors)' : `${row?.n} rows of insights have an embedding the source never had` };
}

/** Every identity/serial sequence of the target is past the copied maximum. */
export async function sequencesPastMax(target: Queryable, tier: Tier): Promise<RuleVerdict> {
  const problems: string[] = [];
  const checked: string[] = [];
  for (const table of tableGraph(tier).tables.values()) {
    for (const column of table.columns.filter((c) => c.identity)) {
      const [seq] = await target.query<{ name: string | null }>(`select pg_get_serial_sequence('public."${table.name}"', '${column.name}') as name`);
      if (!seq?.name) continue;
      const [row] = await target.query<{ last: string; called: boolean; max: string | null }>(
        `select last_value::text as last, is_called as called, (select max("${column.name}")::text from "${table.name}") as max from ${seq.name}`,
      );
      checked.push(`${table.name}.${column.name}`);
      if (row?.max === null || row?.max === undefined) continue;
      const next = BigInt(row.last) + (row.called ? 1n : 0n);
      if (next <= BigInt(row.max)) problems.push(`${table.name}.${column.name}: the next value ${next} is not past the maximum ${row.max}`);
    }
  }
  return { rule: 'sequences', ok: problems.length === 0, detail: problems.length === 0 ? `${checked.join(', ')} past the maximum` : problems.join('; ') };
}

/** The target's foreign keys are exactly the schema package's FK graph for its tier. */
export async function foreignKeysMatch(target: Queryable, tier: Tier): Promise<RuleVerdict> {
  const rows = await target.query<{ edge: string }>(`
    select format('%s(%s)->%s', c.conrelid::regclass, string_agg(a.attname, ',' order by k.ord), c.confrelid::regclass) as edge
      from pg_constraint c
      cross join lateral unnest(c.conkey) with ordinality as k(attnum, ord)
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
     where c.contype = 'f' and c.connamespace = 'public'::regnamespace
     group by c.oid, c.conrelid, c.confrelid`);
  const live = new Set(rows.map((r) => r.edge));
  const expected = new Set(tableGraph(tier).edges.map((e) => `${e.table}(${e.columns.join(',')})->${e.references}`));
  const missing = [...expected].filter((e) => !live.has(e));
  const extra = [...live].filter((e) => !expected.has(e));
  const ok = missing.length === 0 && extra.length === 0;
  return { rule: 'foreign-keys', ok, detail: ok ? `${expected.size} foreign keys as in the schema` : [...missing.map((e) => `missing ${e}`), ...extra.map((e) => `unexpected ${e}`)].join('; ') };
}
