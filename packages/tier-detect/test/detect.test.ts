import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import { applyMigrations, MIGRATION_ORDER } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { seed } from '@mosaic/seed';
import { createTestDatabase, tempStorePath, testServers } from '@mosaic/test-harness';
import { checkValkey, detect } from '../src/index.js';

// Valkey 8 as tools/provision-services.sh starts it (the machine's Redis 7 on 6379 is not the federated cache).
const VALKEY_URL = process.env.MOSAIC_VALKEY_URL ?? 'redis://127.0.0.1:6380';

async function seeded(location: string, tier: Tier, scale: number): Promise<Record<string, number>> {
  const db = await openDatabase(location, { create: true });
  try {
    await applyMigrations(db, tier);
    const result = await seed(db, { scale, seed: 3 });
    return Object.fromEntries(result.tables.map((t) => [t.table, t.rows]));
  } finally {
    await db.close();
  }
}

describe('detect', () => {
  it('a seeded PGlite store is local, with exact row counts', async () => {
    const dir = tempStorePath();
    const counts = await seeded(dir, 'local', 2);
    const found = await detect(dir);
    expect(found).toMatchObject({ engine: 'pglite', tier: 'local', schema: { present: true, version: 1, state: 'current' } });
    expect(found.serverVersion).toMatch(/^18\./);
    expect(found.rowCounts).toEqual(counts);
    expect(Object.keys(found.rowCounts)).toEqual([...MIGRATION_ORDER]);
  });

  it.each(testServers())('PostgreSQL $major without pgvector is standalone; with the federated schema it is federated', async (server) => {
    const standalone = await createTestDatabase('mosaic_test', server);
    const counts = await seeded(standalone, 'standalone', 2);
    const a = await detect(standalone);
    expect(a).toMatchObject({ engine: 'postgres', tier: 'standalone', pgvector: { available: true, installed: false } });
    expect(a.rowCounts).toEqual(counts);
    expect(a.serverVersion.split('.')[0]).toBe(String(server.major));

    const federated = await createTestDatabase('mosaic_test', server);
    const fedCounts = await seeded(federated, 'federated', 2);
    const b = await detect(federated, { valkeyUrl: VALKEY_URL });
    expect(b).toMatchObject({ tier: 'federated', pgvector: { installed: true, version: expect.stringMatching(/^0\.\d+\.\d+$/) } });
    expect(b.rowCounts).toEqual(fedCounts);
    expect(b.valkey).toMatchObject({ ok: true, serverVersion: expect.stringMatching(/^\d+\.\d+/) });
  });

  it('an empty database has no schema and no counts', async () => {
    const found = await detect(await createTestDatabase());
    expect(found).toMatchObject({ schema: { present: false, state: 'absent' }, rowCounts: {}, totalRows: 0, tier: 'standalone' });
  });
});

describe('checkValkey', () => {
  it('answers PONG with the server version from a live server', async () => {
    const health = await checkValkey(VALKEY_URL);
    expect(health).toMatchObject({ ok: true, error: null });
    expect(health.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('reports a refused port at once, with the password redacted', async () => {
    const started = Date.now();
    const health = await checkValkey('redis://:hunter2@127.0.0.1:1', 2000);
    expect(health.ok).toBe(false);
    expect(health.url).toBe('redis://:***@127.0.0.1:1');
    expect(JSON.stringify(health)).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives up on a server that accepts the connection and never answers', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const health = await checkValkey(`redis://127.0.0.1:${port}`, 1000);
      expect(health.ok).toBe(false);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });
});
