import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { createTestDatabase, tempStorePath, testServers } from '@mosaic/test-harness';
import { applyMigrations, loadDdl, primaryKeyDdl, MIGRATION_ORDER, readSchemaInfo, SCHEMA_VERSION, SchemaError, tableGraph } from '../src/index.js';
import type { Tier } from '../src/index.js';
import { deriveMigrationOrder } from '../src/order.js';

/** Tables, columns (with types) and FK constraints: what re-applying must leave unchanged. */
async function catalog(db: Database): Promise<string> {
  const rows = await db.query<{ line: string }>(`
    select format('%s.%s %s', c.table_name, c.column_name, c.data_type) as line from information_schema.columns c where c.table_schema in ('public', 'mosaic')
    union all select format('fk %s', conname) from pg_constraint where contype = 'f'
    union all select format('ext %s', extname) from pg_extension
    order by 1`);
  return rows.map((r) => r.line).join('\n');
}

/** FK edges as the live catalog has them: child table, columns, parent table. */
async function liveEdges(db: Database): Promise<string[]> {
  const rows = await db.query<{ edge: string }>(`
    select format('%s(%s)->%s', c.conrelid::regclass, string_agg(a.attname, ',' order by k.ord), c.confrelid::regclass) as edge
      from pg_constraint c
      cross join lateral unnest(c.conkey) with ordinality as k(attnum, ord)
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
     where c.contype = 'f' and c.connamespace = 'public'::regnamespace
     group by c.oid, c.conrelid, c.confrelid`);
  return rows.map((r) => r.edge).sort();
}

async function check(db: Database, tier: Tier) {
  const first = await applyMigrations(db, tier);
  expect(first.applied).toBe(first.total);
  const before = await catalog(db);
  const again = await applyMigrations(db, tier);
  expect(again.applied).toBe(0);
  expect(await catalog(db)).toBe(before);
  expect(await readSchemaInfo(db)).toMatchObject({ version: SCHEMA_VERSION, tier });

  const graph = tableGraph(tier);
  const expected = graph.edges.map((e) => `${e.table}(${e.columns.join(',')})->${e.references}`).sort();
  expect(await liveEdges(db)).toEqual(expected);
  // The live catalog yields the same order as the constant.
  const tables = await db.query<{ t: string }>("select tablename as t from pg_tables where schemaname = 'public'");
  expect(tables.map((r) => r.t).sort()).toEqual([...MIGRATION_ORDER].sort());
  expect(deriveMigrationOrder(graph)).toEqual([...MIGRATION_ORDER]);

  // loadDdl (what a bulk load drops and puts back) names exactly the live foreign keys and
  // non-unique indexes: a later migration that renames one must keep this list true.
  const live = await db.query<{ item: string }>(`
    select format('foreign-key %s.%s->%s', conrelid::regclass, conname, confrelid::regclass) as item from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace
    union all
    select format('index %s.%s', i.indrelid::regclass, c.relname) from pg_index i join pg_class c on c.oid = i.indexrelid
     where c.relnamespace = 'public'::regnamespace and not i.indisunique and not i.indisprimary`);
  expect(live.map((r) => r.item).sort()).toEqual(loadDdl(tier).map((d) => `${d.kind} ${d.table}.${d.name}${d.references ? `->${d.references}` : ''}`).sort());
  // primaryKeyDdl (what a load by pages drops and puts back) names every public table's live
  // primary key with its columns, in order.
  const keys = await db.query<{ item: string }>(`
    select format('%s.%s (%s)', conrelid::regclass, conname,
      (select string_agg(format('%I', a.attname), ',' order by k.ord) from unnest(conkey) with ordinality k(attnum, ord) join pg_attribute a on a.attrelid = conrelid and a.attnum = k.attnum)) as item
      from pg_constraint where contype = 'p' and connamespace = 'public'::regnamespace`);
  expect(keys.map((r) => r.item).sort()).toEqual(primaryKeyDdl(tier).map((d) => `${d.table}.${d.name} (${/PRIMARY KEY \((.*)\)$/.exec(d.sql)![1]!.replace(/"/g, '')})`).sort());

  const embedding = await db.query("select 1 from information_schema.columns where table_name = 'insights' and column_name = 'embedding'");
  const vector = await db.query("select 1 from pg_extension where extname = 'vector'");
  expect(embedding.length).toBe(tier === 'federated' ? 1 : 0);
  expect(vector.length).toBe(tier === 'federated' ? 1 : 0);
  return before;
}

describe.each(testServers())('applyMigrations on PostgreSQL $major', (server) => {
  it.each(['standalone', 'federated'] as const)('applies %s to an empty database, and re-applies as a no-op', async (tier) => {
    const db = await openDatabase(await createTestDatabase('mosaic_test', server));
    try {
      await check(db, tier);
    } finally {
      await db.close();
    }
  });

  it('refuses a database initialised for another tier', async () => {
    const db = await openDatabase(await createTestDatabase('mosaic_test', server));
    try {
      await applyMigrations(db, 'standalone');
      await expect(applyMigrations(db, 'federated')).rejects.toMatchObject({ code: 'TIER_MISMATCH' });
    } finally {
      await db.close();
    }
  });

  it('refuses a schema newer than the code', async () => {
    const db = await openDatabase(await createTestDatabase('mosaic_test', server));
    try {
      await applyMigrations(db, 'standalone');
      await db.exec(`update mosaic.schema_info set version = ${SCHEMA_VERSION + 1}`);
      const error = await applyMigrations(db, 'standalone').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaError);
      expect(error).toMatchObject({ code: 'SCHEMA_TOO_NEW' });
    } finally {
      await db.close();
    }
  });
});

describe('applyMigrations on PGlite', () => {
  it('applies local to a new store directory, and re-applies as a no-op after reopening', async () => {
    const dir = tempStorePath();
    const db = await openDatabase(dir, { create: true });
    let before: string;
    try {
      before = await check(db, 'local');
    } finally {
      await db.close();
    }
    const reopened = await openDatabase(dir);
    try {
      expect((await applyMigrations(reopened, 'local')).applied).toBe(0);
      expect(await catalog(reopened)).toBe(before);
    } finally {
      await reopened.close();
    }
  });
});
