/** Anything that runs a query: @mosaic/connection's Database fits (the harness does not import it). */
export interface QueryRunner {
  query<T extends Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * A content digest of each table, computed inside the database: md5 over the sorted md5s
 * of every row's text form, plus the row count. Order-independent and collation-free, so
 * PGlite and PostgreSQL stores with the same rows give the same digest.
 */
export async function tableDigests(db: QueryRunner, tables: readonly string[], exclude: Record<string, readonly string[]> = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const skip = exclude[table] ?? [];
    const cols = await db.query<{ name: string }>(
      `select quote_ident(attname) as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`,
      [table],
    );
    const list = cols.map((c) => c.name).filter((c) => !skip.includes(c.replace(/"/g, '')));
    const [row] = await db.query<{ digest: string }>(
      `select count(*)::text || ':' || coalesce(md5(string_agg(h, '' order by h collate "C")), '-') as digest
         from (select md5(row(${list.join(', ')})::text) as h from ${table}) x`,
    );
    out[table] = row!.digest;
  }
  return out;
}
