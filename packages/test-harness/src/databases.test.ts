import { describe, expect, inject, it } from 'vitest';
import postgres from 'postgres';
import { createTestDatabase, tempStorePath } from './databases.js';

describe('test harness', () => {
  it('finds a PostgreSQL with pgvector available', async () => {
    const sql = postgres(inject('pgAdminUrl'), { max: 1 });
    try {
      const rows = await sql`select name from pg_available_extensions where name = 'vector'`;
      expect([...rows]).toEqual([{ name: 'vector' }]);
    } finally {
      await sql.end();
    }
  });

  it('gives each caller its own empty database', async () => {
    const a = await createTestDatabase();
    const b = await createTestDatabase();
    expect(a).not.toEqual(b);
    const sqlA = postgres(a, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sqlA`select count(*)::text as n from pg_tables where schemaname = 'public'`;
      expect(row?.n).toBe('0');
      await sqlA`create table only_in_a (x int)`;
    } finally {
      await sqlA.end();
    }
    const sqlB = postgres(b, { max: 1 });
    try {
      expect([...(await sqlB`select 1 from pg_tables where tablename = 'only_in_a'`)]).toEqual([]);
    } finally {
      await sqlB.end();
    }
  });

  it('hands out PGlite store paths that do not exist yet, one per call', () => {
    const a = tempStorePath();
    const b = tempStorePath();
    expect(a).not.toEqual(b);
  });
});
