import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { applyMigrations, MIGRATION_ORDER } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { createTestDatabase, tableDigests, tempStorePath } from '@mosaic/test-harness';
import { seed, SeedError } from '../src/index.js';

const one = async (db: Database, sql: string) => Object.values((await db.query(sql))[0] ?? {})[0];

// One shared suite for both engines (STYLE habit 8).
const engines: Array<{ name: string; tier: Tier; open: () => Promise<Database> }> = [
  { name: 'PostgreSQL (federated)', tier: 'federated', open: async () => openDatabase(await createTestDatabase(), { create: true }) },
  { name: 'PGlite (local)', tier: 'local', open: () => openDatabase(tempStorePath(), { create: true }) },
];

describe.each(engines)('seed on $name', ({ tier, open }) => {
  let db: Database;
  beforeAll(async () => {
    db = await open();
    await applyMigrations(db, tier);
    const result = await seed(db, { scale: 3, seed: 42 });
    expect(result.totalRows).toBeGreaterThan(2000);
  }, 120_000);
  afterAll(() => db?.close());

  it('fills every table, the skipped ones included', async () => {
    for (const table of MIGRATION_ORDER) expect(Number(await one(db, `select count(*) from ${table}`)), table).toBeGreaterThan(0);
  });

  it('puts children before their parents in key order (self-references and FKs)', async () => {
    expect(Number(await one(db, 'select count(*) from tasks c join tasks p on c.parent_id = p.id where c.id < p.id'))).toBeGreaterThan(0);
    expect(Number(await one(db, 'select count(*) from messages c join messages p on c.parent_id = p.id where c.id < p.id'))).toBeGreaterThan(0);
  });

  it('closes the users <-> teams cycle', async () => {
    expect(Number(await one(db, 'select count(*) from users where active_team_id is not null'))).toBeGreaterThan(0);
  });

  it('has microsecond timestamps and infinity', async () => {
    expect(Number(await one(db, 'select count(*) from messages where extract(microseconds from created_at)::bigint % 1000 <> 0'))).toBeGreaterThan(0);
    expect(Number(await one(db, "select count(*) from accounts where expires_at = 'infinity'")) + Number(await one(db, "select count(*) from missions where deadline_at = 'infinity'"))).toBeGreaterThan(0);
  });

  it('has bigints above 2^53, numerics with all digits, bytea with every byte value', async () => {
    expect(await one(db, "select (max(seq) > 9007199254740992)::text from events")).toBe('true');
    expect(Number(await one(db, "select count(*) from messages where cost_usd::text ~ '\\.[0-9]{8}$' and cost_usd::text !~ '0$'"))).toBeGreaterThan(0);
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex');
    expect(Number(await one(db, `select count(*) from provider_credentials where encode(encrypted_key, 'hex') = '${allBytes}'`))).toBe(1);
  });

  it('has arrays with NULLs, quotes, commas and backslashes', async () => {
    expect(Number(await one(db, "select count(*) from agents where array_position(tools, null) is not null and 'a,b' = any(tools) and 'q\"uote' = any(tools) and E'back\\\\slash' = any(tools)"))).toBeGreaterThan(0);
  });

  it('has text with tabs, newlines, backslashes, \\N and emoji', async () => {
    const has = async (pattern: string) => Number(await one(db, `select count(*) from messages where strpos(content, ${pattern}) > 0`));
    expect(await has("E'\\t'")).toBeGreaterThan(0);
    expect(await has("E'\\n'")).toBeGreaterThan(0);
    expect(await has("E'\\\\N'")).toBeGreaterThan(0);
    expect(await has("'🚀'")).toBeGreaterThan(0);
  });

  it('has jsonb numbers JS cannot hold exactly', async () => {
    expect(Number(await one(db, "select count(*) from events where payload::text like '%9007199254740993%' or payload::text like '%2406.60%'"))).toBeGreaterThan(0);
  });

  it('has an identity column with gaps, and its sequence past the maximum', async () => {
    expect(await one(db, 'select (max(id) > count(*))::text from agent_logs')).toBe('true');
    await db.exec("insert into agent_logs (agent_id, level, message) select id, 'info', 'after seed' from agents limit 1");
  });

  it(`fills embeddings only where the column exists (${tier})`, async () => {
    const column = await db.query("select 1 from information_schema.columns where table_name = 'insights' and column_name = 'embedding'");
    if (tier === 'federated') {
      expect(column).toHaveLength(1);
      expect(Number(await one(db, 'select count(*) from insights where embedding is not null'))).toBeGreaterThan(0);
    } else {
      expect(column).toHaveLength(0);
    }
  });

  it('leaves every foreign key and index as the migrations made them (they are dropped for the load)', async () => {
    const catalog = async (d: Database) => d.query<{ what: string }>(`
      select conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated as what
        from pg_constraint where connamespace = 'public'::regnamespace
      union all
      select indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid) || ' ' || indisvalid from pg_index
        where indrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
      order by 1`);
    const fresh = await open();
    try {
      await applyMigrations(fresh, tier);
      const expected = await catalog(fresh);
      expect(expected.filter((r) => r.what.includes('FOREIGN KEY')).length).toBeGreaterThan(20);
      expect(await catalog(db)).toEqual(expected);
    } finally {
      await fresh.close();
    }
  });

  it('refuses a store that already has data, and leaves it as it was', async () => {
    const before = await tableDigests(db, MIGRATION_ORDER);
    await expect(seed(db, { scale: 1 })).rejects.toMatchObject({ code: 'NOT_EMPTY' });
    expect(await tableDigests(db, MIGRATION_ORDER)).toEqual(before);
  });
});

describe('seed determinism', () => {
  it('the same seed gives identical data in PGlite and PostgreSQL; another seed does not', async () => {
    const a = await openDatabase(tempStorePath(), { create: true });
    const b = await openDatabase(await createTestDatabase());
    const c = await openDatabase(await createTestDatabase());
    try {
      await applyMigrations(a, 'local');
      await applyMigrations(b, 'standalone');
      await applyMigrations(c, 'standalone');
      await seed(a, { scale: 2, seed: 7 });
      await seed(b, { scale: 2, seed: 7 });
      await seed(c, { scale: 2, seed: 8 });
      // messages.search is generated by each engine's own text search parser: not seed data.
      const digests = (db: Database) => tableDigests(db, MIGRATION_ORDER, { messages: ['search'] });
      const da = await digests(a);
      expect(await digests(b)).toEqual(da);
      expect(await digests(c)).not.toEqual(da);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  }, 120_000);
});

describe('seed refusals', () => {
  it('refuses a store without the schema', async () => {
    const db = await openDatabase(await createTestDatabase());
    try {
      await expect(seed(db, { scale: 1 })).rejects.toMatchObject({ code: 'NO_SCHEMA' });
    } finally {
      await db.close();
    }
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses scale %s before touching the store', async (scale) => {
    const db = await openDatabase(await createTestDatabase());
    try {
      const error = await seed(db, { scale }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SeedError);
      expect(error).toMatchObject({ code: 'INVALID_OPTIONS' });
    } finally {
      await db.close();
    }
  });
});
