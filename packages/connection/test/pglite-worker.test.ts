import { describe, expect, it } from 'vitest';
import { PGlite as PGlite17 } from 'pglite-pg17';
import { tempStorePath } from '@mosaic/test-harness';
import { openDatabase } from '../src/index.js';

describe('PGlite in its own thread', () => {
  it('leaves the main thread free while a long statement runs', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    try {
      let ticks = 0;
      let last = performance.now();
      let longestGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        ticks++;
      }, 5);
      const started = performance.now();
      const [row] = await db.query<{ n: string }>('select count(*)::text as n from generate_series(1, 3000000) a, generate_series(1, 2) b');
      const took = performance.now() - started;
      clearInterval(timer);
      expect(row!.n).toBe('6000000');
      expect(took, 'the statement must be long enough to show anything').toBeGreaterThan(300);
      // On the main thread PGlite would hold the event loop for the whole statement.
      expect(longestGap).toBeLessThan(took / 2);
      expect(ticks).toBeGreaterThan(10);
    } finally {
      await db.close();
    }
  });

  it('reads a store through with small shared buffers when asked (readThrough), PGlite 0.5 and 0.4 alike', async () => {
    const dir17 = tempStorePath('pg17');
    await (await PGlite17.create(dir17)).close();
    for (const dir of [tempStorePath(), dir17]) {
      const created = await openDatabase(dir, { create: true });
      expect(await created.query('show shared_buffers')).toEqual([{ shared_buffers: '128MB' }]);
      await created.close();
      const reader = await openDatabase(dir, { readThrough: true });
      expect(await reader.query('show shared_buffers')).toEqual([{ shared_buffers: '16MB' }]);
      await reader.close();
    }
  }, 60_000);

  it('passes PostgreSQL errors through with their SQLSTATE, detail and hint', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    try {
      await db.exec('create table t (id int primary key)');
      await db.exec('insert into t values (1)');
      await expect(db.query('insert into t values (1)')).rejects.toMatchObject({ code: 'QUERY_FAILED', sqlState: '23505', detail: 'Key (id)=(1) already exists.' });
      await expect(db.query('select idd from t')).rejects.toMatchObject({ sqlState: '42703', hint: expect.stringContaining('"t.id"') });
    } finally {
      await db.close();
    }
  });

  it('refuses calls once closed, with one clear error', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    await db.close();
    await expect(db.query('select 1')).rejects.toMatchObject({ code: 'CONNECTION_LOST', message: expect.stringContaining('is closed') });
  });
});
