import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import postgres from 'postgres';
import { createTestDatabase, tempStorePath } from './databases.js';
import { testServers } from './servers.js';

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

  it('drops the databases and removes the temp dirs of a test file once it ends (another vitest runs one)', () => {
    const server = testServers()[0]!;
    const root = new URL('..', import.meta.url).pathname;
    // The child uses this run's server (no second discovery, no second cluster).
    const env = { ...process.env, MOSAIC_TEST_SERVERS: server.name, [server.name === 'pg17' ? 'MOSAIC_TEST_PG17_URL' : 'MOSAIC_TEST_PG15_URL']: server.adminUrl, NO_COLOR: '1' };
    const run = spawnSync('npx', ['vitest', 'run', '--config', 'test-fixtures/vitest.config.ts'], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    const named = /\[cleanup-fixture\] database (\S+) dir (\S+)/.exec(run.stdout + run.stderr);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(named, run.stdout).not.toBeNull();
    expect(existsSync(named![2]!)).toBe(false);
    return (async () => {
      const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      try {
        expect([...(await sql`select 1 from pg_database where datname = ${named![1]!}`)]).toEqual([]);
      } finally {
        await sql.end();
      }
    })();
  }, 150_000);
});

