import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { createTestDatabase, tempStorePath, testServers } from '@mosaic/test-harness';
import { acquireAdvisoryLock, AdvisoryLockError, holderQuery, lockKeyParts, MOSAIC_LOCK_KEY, readHolder } from '../src/index.js';
import type { WaitReport } from '../src/index.js';
import { startPgbouncer } from './pgbouncer.js';

async function withDatabases<T>(url: string, n: number, fn: (dbs: Database[]) => Promise<T>, app = 'mosaic lock test'): Promise<T> {
  const dbs = await Promise.all(Array.from({ length: n }, (_, i) => openDatabase(url, { applicationName: `${app} ${i + 1}` })));
  try {
    return await fn(dbs);
  } finally {
    await Promise.all(dbs.map((d) => d.close()));
  }
}

describe('the Mosaic lock key', () => {
  it('is "Mosaic" + 1 and splits into the classid/objid pg_locks shows', () => {
    expect(MOSAIC_LOCK_KEY).toBe(5579805325552451585n);
    expect(lockKeyParts(MOSAIC_LOCK_KEY)).toEqual({ classid: 1299149665, objid: 1768095745 });
    expect(holderQuery()).toContain('l.classid = 1299149665 and l.objid = 1768095745');
  });
});

describe.each(testServers())('acquireAdvisoryLock on PostgreSQL $major', (server) => {
  it('a second taker waits, is told who holds it, and gets it once the first releases', async () => {
    await withDatabases(await createTestDatabase('mosaic_test', server), 2, async ([a, b]) => {
      const first = await acquireAdvisoryLock(a!);
      const reports: WaitReport[] = [];
      const second = acquireAdvisoryLock(b!, { reportEveryMs: 100, pollMs: 50, onWait: (r) => reports.push(r) });
      await new Promise((r) => setTimeout(r, 600));
      expect(reports.length).toBeGreaterThan(1);
      expect(reports[0]!.holder).toMatchObject({ pid: first.backendPid, applicationName: 'mosaic lock test 1' });
      await first.release();
      const held = await second;
      expect(await readHolder(a!, MOSAIC_LOCK_KEY)).toMatchObject({ pid: held.backendPid });
      await held.release();
      expect(await readHolder(a!, MOSAIC_LOCK_KEY)).toBeUndefined();
    });
  });

  it('gives up after timeoutSeconds with LOCK_TIMEOUT naming the holder', async () => {
    await withDatabases(await createTestDatabase('mosaic_test', server), 2, async ([a, b]) => {
      const first = await acquireAdvisoryLock(a!);
      const started = Date.now();
      const error = await acquireAdvisoryLock(b!, { timeoutSeconds: 1 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(error).toBeInstanceOf(AdvisoryLockError);
      expect(error).toMatchObject({ code: 'LOCK_TIMEOUT' });
      expect((error as Error).message).toContain(`pid ${first.backendPid}`);
      expect((error as Error).message).toContain(`pg_terminate_backend(${first.backendPid})`);
      await first.release();
    });
  });

  it('is freed when its session dies, and the holder learns it lost the lock', async () => {
    await withDatabases(await createTestDatabase('mosaic_test', server), 2, async ([a, b]) => {
      const first = await acquireAdvisoryLock(a!);
      await first.assertHeld();
      await b!.query('select pg_terminate_backend($1)', [first.backendPid]);
      await expect(first.assertHeld()).rejects.toMatchObject({ code: 'LOCK_LOST' });
      const second = await acquireAdvisoryLock(b!, { timeoutSeconds: 2 });
      await second.release();
      await first.release().catch(() => {});
    });
  });
});

describe('the lock session and server timeouts', () => {
  it('pins idle_session_timeout and the other timeouts off: the lock outlives a database default that would end it, and a lost one is heard at once', async () => {
    const url = await createTestDatabase();
    await withDatabases(url, 1, async ([admin]) => {
      const [row] = await admin!.query<{ v: number }>("select current_setting('server_version_num')::int as v");
      expect(row!.v, 'idle_session_timeout needs PostgreSQL 14+').toBeGreaterThanOrEqual(140000);
      await admin!.exec(`alter database "${new URL(url).pathname.slice(1)}" set idle_session_timeout = '300ms'`);
    });
    await withDatabases(url, 2, async ([a, b]) => {
      const lock = await acquireAdvisoryLock(a!);
      await new Promise((r) => setTimeout(r, 1200));
      expect(lock.lost.aborted).toBe(false);
      await lock.assertHeld();
      expect(await readHolder(b!, MOSAIC_LOCK_KEY)).toMatchObject({ pid: lock.backendPid });
      // Ended from outside: heard from the connection closing, long before the periodic check.
      await b!.query('select pg_terminate_backend($1)', [lock.backendPid]);
      const until = Date.now() + 1000;
      while (!lock.lost.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(lock.lost.aborted).toBe(true);
      expect(lock.lost.reason).toMatchObject({ code: 'LOCK_LOST' });
      await lock.release().catch(() => {});
    });
  });
});

describe('acquireAdvisoryLock through PgBouncer', () => {
  it('refuses a transaction-mode pooler with POOLER_DETECTED, leaving no lock behind', async () => {
    const direct = await createTestDatabase();
    const bouncer = await startPgbouncer(direct, 'transaction');
    try {
      const db = await openDatabase(bouncer.url, { applicationName: 'mosaic via pgbouncer' });
      try {
        const error = await acquireAdvisoryLock(db).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'POOLER_DETECTED' });
        expect((error as Error).message).toMatch(/transaction-mode connection pooler/);
      } finally {
        await db.close();
      }
      await withDatabases(direct, 1, async ([d]) => {
        // The refused run left the key free for a direct connection.
        const lock = await acquireAdvisoryLock(d!, { timeoutSeconds: 2 });
        await lock.release();
      });
    } finally {
      await bouncer.stop();
    }
  });

  it('accepts a session-mode pooler, where a session lock is real', async () => {
    const direct = await createTestDatabase();
    const bouncer = await startPgbouncer(direct, 'session');
    try {
      const db = await openDatabase(bouncer.url);
      try {
        const lock = await acquireAdvisoryLock(db);
        await lock.assertHeld();
        await lock.release();
      } finally {
        await db.close();
      }
    } finally {
      await bouncer.stop();
    }
  });
});

describe('acquireAdvisoryLock on PGlite', () => {
  it('takes and releases the lock without stalling other statements', async () => {
    const db = await openDatabase(tempStorePath(), { create: true });
    try {
      const lock = await acquireAdvisoryLock(db, { timeoutSeconds: 1 });
      expect(await db.query('select 1 as one')).toEqual([{ one: 1 }]);
      await lock.assertHeld();
      await lock.release();
    } finally {
      await db.close();
    }
  });
});
