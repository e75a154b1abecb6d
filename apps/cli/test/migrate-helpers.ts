import { expect } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '@mosaic/connection';
import { copiedTables, loadDdl, MIGRATION_ORDER, primaryKeyDdl, SKIPPED_TABLES } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { tableDigests } from '@mosaic/test-harness';
import { runCli } from './run-cli.js';

export const COPIED = copiedTables(MIGRATION_ORDER);

export async function initSeed(location: string, tier: string, scale = 3, seed = 1): Promise<void> {
  const init = await runCli(['storage', 'init', '--url', location, '--tier', tier]);
  expect(init.status, init.stderr).toBe(0);
  const seeded = await runCli(['storage', 'seed', '--url', location, '--scale', String(scale), '--seed', String(seed)]);
  expect(seeded.status, seeded.stderr).toBe(0);
}

/**
 * The operator's rollback of a verified migration: its source was retired (it refuses writes);
 * `mosaic storage unfence` lets it take writes again, as a test that edits a migrated source needs.
 */
export async function unfenceSource(location: string): Promise<void> {
  const result = await runCli(['storage', 'unfence', '--url', location, '--yes']);
  expect(result.status, result.stderr).toBe(0);
}

export async function digests(location: string, excludeEmbedding: boolean): Promise<Record<string, string>> {
  const db = await openDatabase(location);
  try {
    return await tableDigests(db, COPIED, { messages: ['search'], ...(excludeEmbedding ? { insights: ['embedding'] } : {}) });
  } finally {
    await db.close();
  }
}

export async function query<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return [...(await sql.unsafe(text))] as unknown as T[];
  } finally {
    await sql.end();
  }
}

/** Every relation, schema and extension of a database: what "nothing written" must leave alone. */
export async function catalog(url: string): Promise<string> {
  const rows = await query<{ line: string }>(url, `
    select format('rel %s.%s %s', n.nspname, c.relname, c.relkind) as line from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    union all select format('ns %s', nspname) from pg_namespace
    union all select format('ext %s', extname) from pg_extension
    order by 1`);
  return rows.map((r) => r.line).join('\n');
}

/** The target equals the source, table by table, as text; skipped tables empty; ids still work. */
export async function expectMigrated(source: string, target: string, sourceHasVectors: boolean): Promise<void> {
  expect(await digests(target, !sourceHasVectors)).toEqual(await digests(source, !sourceHasVectors));
  for (const table of Object.keys(SKIPPED_TABLES)) {
    expect(await query(target, `select 1 from ${table} limit 1`), `${table} must be empty`).toEqual([]);
  }
  for (const table of ['accounts', 'provider_credentials']) {
    const [row] = await query<{ n: number }>(target, `select count(*)::int as n from ${table}`);
    expect(row!.n, table).toBeGreaterThan(0);
  }
  const [embedding] = await query<{ has: boolean }>(target, "select exists(select 1 from information_schema.columns where table_name = 'insights' and column_name = 'embedding') as has");
  if (embedding!.has && !sourceHasVectors) {
    const [row] = await query<{ n: number }>(target, 'select count(*)::int as n from insights where embedding is not null');
    expect(row!.n).toBe(0);
  }
  await expectLoadDdl(target);
  const [log] = await query<{ id: string }>(target, "insert into agent_logs (agent_id, level, message) select id, 'info', 'after migration' from agents limit 1 returning id::text");
  expect(BigInt(log!.id)).toBeGreaterThan(0n);
  await query(target, "delete from agent_logs where message = 'after migration'");
}

/** The foreign keys, secondary indexes and primary keys a load may drop that the target holds (names). */
export async function presentLoadDdl(url: string): Promise<string[]> {
  const rows = await query<{ item: string }>(url, `
    select format('%s %s', case contype when 'f' then 'foreign-key' else 'primary-key' end, conname) as item
      from pg_constraint where contype in ('f', 'p') and connamespace = 'public'::regnamespace
    union all
    select format('index %s', c.relname) from pg_index i join pg_class c on c.oid = i.indexrelid
     where c.relnamespace = 'public'::regnamespace and not i.indisunique and not i.indisprimary`);
  return rows.map((r) => r.item).sort();
}

/** Every foreign key, index and primary key of the target's tier is there, as the schema defines them. */
export async function expectLoadDdl(url: string): Promise<void> {
  const [info] = await query<{ tier: Tier }>(url, 'select tier from mosaic.schema_info');
  expect(await presentLoadDdl(url)).toEqual([...loadDdl(info!.tier), ...primaryKeyDdl(info!.tier)].map((d) => `${d.kind} ${d.name}`).sort());
}
