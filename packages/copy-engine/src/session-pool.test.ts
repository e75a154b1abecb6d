import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { sessionPool } from './session-pool.js';

describe('sessionPool', () => {
  it('PostgreSQL: hands a clean session to the next user, closes a dirty one, skips one whose connection died, closes the idle ones at the end', async () => {
    const db = await openDatabase(await createTestDatabase());
    const pool = sessionPool(db);
    try {
      const a = await pool.acquire();
      const pid = a.backendPid;
      await pool.release(a, true);
      const again = await pool.acquire();
      expect(again.backendPid).toBe(pid);
      await pool.release(again, false); // dirty: closed, never handed out
      const fresh = await pool.acquire();
      expect(fresh.backendPid).not.toBe(pid);
      await pool.release(fresh, true);
      await db.query(`select pg_terminate_backend(${fresh.backendPid})`);
      const until = Date.now() + 3000;
      while (!fresh.closed.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const next = await pool.acquire();
      expect(next.backendPid).not.toBe(fresh.backendPid);
      expect(await next.query('select 1 as one')).toEqual([{ one: 1 }]);
      await pool.release(next, true);
      expect(db.backendPids()).toContain(next.backendPid);
      await pool.close();
      expect(db.backendPids()).not.toContain(next.backendPid);
      const late = await pool.acquire();
      await pool.release(late, true); // after close(): closed, not kept
      expect(db.backendPids()).not.toContain(late.backendPid);
    } finally {
      await pool.close();
      await db.close();
    }
  });

  it('PGlite: never keeps its one shared session (an idle holder would stop every other statement)', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    const pool = sessionPool(db);
    try {
      const s = await pool.acquire();
      await pool.release(s, true);
      const answered = await Promise.race([db.query('select 1 as one'), new Promise((r) => setTimeout(() => r('blocked'), 2000))]);
      expect(answered).toEqual([{ one: 1 }]);
    } finally {
      await pool.close();
      await db.close();
    }
  });
});
