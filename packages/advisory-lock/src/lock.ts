import type { Database, Session } from '@mosaic/connection';
import { AdvisoryLockError } from './errors.js';
import { describeHolder, readHolder } from './holder.js';
import type { LockHolder } from './holder.js';
import { lockKeyParts, MOSAIC_LOCK_KEY } from './key.js';
import { assertNotPooled } from './pooler.js';

export interface WaitReport {
  readonly key: bigint;
  readonly holder: LockHolder | undefined;
  readonly waitedMs: number;
}

export interface AcquireOptions {
  key?: bigint;
  /** Give up after this many seconds (LOCK_TIMEOUT). Undefined: wait as long as it takes. */
  timeoutSeconds?: number | undefined;
  /** Called every `reportEveryMs` while waiting, with the current holder. */
  onWait?: (report: WaitReport) => void;
  reportEveryMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

export interface HeldLock {
  readonly key: bigint;
  /** The backend that holds the lock: find it in pg_locks / pg_stat_activity. */
  readonly backendPid: number;
  /** Throws LOCK_LOST if the session no longer holds the lock (connection dropped, terminated). */
  assertHeld(): Promise<void>;
  /** Unlocks and returns the connection. Safe to call twice. */
  release(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Takes the Mosaic session advisory lock on its own reserved connection and keeps it for
 * the whole run. Polls pg_try_advisory_lock (rather than blocking in pg_advisory_lock with
 * lock_timeout) so that it can report the holder while it waits, and works the same on
 * PGlite. If this process dies, PostgreSQL ends the session and frees the lock with it.
 */
export async function acquireAdvisoryLock(db: Database, options: AcquireOptions = {}): Promise<HeldLock> {
  const key = options.key ?? MOSAIC_LOCK_KEY;
  const pollMs = options.pollMs ?? 250;
  const reportEveryMs = options.reportEveryMs ?? 5000;
  // PGlite has one session, already guarded across processes by the store lock; reserving it
  // would stall every other statement of this process, so the lock runs on the shared one.
  const session: Session = db.engine === 'pglite'
    ? { ...db, engine: 'pglite', query: (t, p) => db.query(t, p), exec: (t) => db.exec(t), copyFrom: (t, d) => db.copyFrom(t, d), copyTo: (t) => db.copyTo(t), release: async () => {} }
    : await db.session();
  const started = Date.now();
  let lastReport = -Infinity;
  try {
    let backendPid: number;
    for (;;) {
      const [row] = await session.query<{ ok: boolean; pid: number }>('select pg_try_advisory_lock($1::bigint) as ok, pg_backend_pid() as pid', [key.toString()]);
      if (row?.ok) {
        backendPid = row.pid;
        break;
      }
      const waitedMs = Date.now() - started;
      if (options.signal?.aborted) throw new AdvisoryLockError('LOCK_ABORTED', 'Stopped waiting for the Mosaic lock.');
      if (options.timeoutSeconds !== undefined && waitedMs >= options.timeoutSeconds * 1000) {
        const holder = await readHolder(session, key);
        throw new AdvisoryLockError(
          'LOCK_TIMEOUT',
          `Gave up after ${options.timeoutSeconds} s waiting for the Mosaic lock (key ${key}) on ${db.location.display}: held by ${describeHolder(holder)}. Wait for that run to finish${holder ? `, or end it with SELECT pg_terminate_backend(${holder.pid});` : '.'}`,
        );
      }
      if (waitedMs - lastReport >= reportEveryMs) {
        lastReport = waitedMs;
        options.onWait?.({ key, holder: await readHolder(session, key), waitedMs });
      }
      const left = options.timeoutSeconds !== undefined ? options.timeoutSeconds * 1000 - waitedMs : pollMs;
      await sleep(Math.max(10, Math.min(pollMs, left)));
    }
    if (db.engine === 'postgres') {
      try {
        await assertNotPooled(db, session, key, backendPid);
      } catch (error) {
        await session.query('select pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => {});
        throw error;
      }
    }
    let released = false;
    const { classid, objid } = lockKeyParts(key);
    return {
      key,
      backendPid,
      async assertHeld() {
        const [row] = await session.query<{ held: boolean }>(
          `select exists(select 1 from pg_locks where locktype = 'advisory' and classid = $1::oid and objid = $2::oid and objsubid = 1 and granted and pid = pg_backend_pid()) as held`,
          [classid, objid],
        ).catch((cause: unknown) => {
          throw new AdvisoryLockError('LOCK_LOST', `Lost the connection that holds the Mosaic lock on ${db.location.display}: stopping.`, { cause });
        });
        if (!row?.held) throw new AdvisoryLockError('LOCK_LOST', `The Mosaic lock on ${db.location.display} is no longer held by this run: stopping.`);
      },
      async release() {
        if (released) return;
        released = true;
        try {
          await session.query('select pg_advisory_unlock($1::bigint)', [key.toString()]);
        } finally {
          await session.release();
        }
      },
    };
  } catch (error) {
    await session.release();
    throw error;
  }
}
