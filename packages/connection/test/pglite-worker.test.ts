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

  it('streams a COPY export over the wire protocol: rows bigger than a piece, many small rows, and an error', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    try {
      await db.exec("create table big (id int, body text); insert into big select g, repeat(chr(65 + g), 700000 + g) from generate_series(1, 3) g");
      await db.exec('create table small (id int); insert into small select generate_series(1, 100000)');
      const text = async (sql: string) => {
        const parts: Buffer[] = [];
        for await (const part of db.copyTo(sql)) parts.push(Buffer.from(part));
        return Buffer.concat(parts).toString('utf8');
      };
      const big = await text('COPY (select id, body from big order by id) TO STDOUT');
      expect(big).toBe([1, 2, 3].map((g) => `${g}\t${String.fromCharCode(65 + g).repeat(700000 + g)}\n`).join(''));
      const small = await text('COPY small TO STDOUT');
      expect(small).toBe(Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join(''));
      await expect(text('COPY (select 1 / (id - id) from small) TO STDOUT')).rejects.toMatchObject({ code: 'QUERY_FAILED', sqlState: '22012' });
      expect(await db.query('select count(*)::int as n from small')).toEqual([{ n: 100000 }]);
    } finally {
      await db.close();
    }
  });

  it('refuses calls once closed, with one clear error', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    await db.close();
    await expect(db.query('select 1')).rejects.toMatchObject({ code: 'CONNECTION_LOST', message: expect.stringContaining('is closed') });
  });

  it('a thread that dies mid-call fails every pending call, and every later one, with CONNECTION_LOST', async () => {
    // The worker's test-only exit door (pglite/worker.ts): no statement reliably kills it.
    const exitOn = 'select 70 as mosaic_test_exit';
    process.env.MOSAIC_TEST_PGLITE_EXIT_ON = exitOn;
    let db: Awaited<ReturnType<typeof openDatabase>>;
    try {
      db = await openDatabase(tempStorePath(), { create: true });
    } finally {
      delete process.env.MOSAIC_TEST_PGLITE_EXIT_ON;
    }
    const session = await db.session();
    // Three calls in flight at once: the first ends the thread before the others are answered.
    const pending = await Promise.allSettled([session.query(exitOn), session.query('select 1 as one'), session.exec('select 2')]);
    const lost = { name: 'ConnectionError', code: 'CONNECTION_LOST' };
    for (const result of pending) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toMatchObject(lost);
    }
    expect(((pending[0] as PromiseRejectedResult).reason as Error).message).toMatch(/^PGlite's thread for .* ended \(exit code 70\); re-open the store\.$/);
    expect(session.closed.aborted).toBe(true);
    await session.release();
    await expect(db.query('select 1')).rejects.toMatchObject(lost);
    await expect(db.exec('select 1')).rejects.toMatchObject(lost);
    const later = await db.session();
    await expect(later.query('select 1')).rejects.toMatchObject(lost);
    await later.release();
    await db.close().catch(() => {});
  });
});
