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
  /** While held, how often a light query checks the lock is still this session's (PostgreSQL). Default 5000. */
  checkEveryMs?: number;
}

export interface HeldLock {
  readonly key: bigint;
  /** The backend that holds the lock: find it in pg_locks / pg_stat_activity. */
  readonly backendPid: number;
  /** Throws LOCK_LOST if the session no longer holds the lock (connection dropped, terminated). */
  assertHeld(): Promise<void>;
  /**
   * Aborted the moment the lock is known lost (reason: a LOCK_LOST AdvisoryLockError): at once
   * when the lock's connection closes, else at the next periodic check. A flag to test before
   * each write, with no round trip; not aborted by release().
   */
  readonly lost: AbortSignal;
  /**
   * A statement that fails (SQLSTATE `MOSLK`, see isFenceFailure) unless this lock's session
   * still holds the lock: sent in the same message as a COMMIT, the server itself refuses to
   * commit for a run that lost its lock, or released it (Ctrl-C), whatever the client knows.
   */
  readonly fenceSql: string;
  /** Unlocks and returns the connection. Safe to call twice. */
  release(): Promise<void>;
}

/** SQLSTATE of a failed fence (HeldLock.fenceSql). */
export const FENCE_SQLSTATE = 'MOSLK';

/** The error a statement got because a lock fence failed. */
export function isFenceFailure(error: unknown): boolean {
  return (error as { sqlState?: unknown })?.sqlState === FENCE_SQLSTATE;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The lock lives as long as its session: no server timeout may end that session while a run
 * holds it, however long the run (a role or database may set any of these). statement_timeout,
 * lock_timeout and idle_in_transaction_session_timeout are off on every session already
 * (@mosaic/connection); set again here so the lock never depends on that. idle_session_timeout
 * exists from PostgreSQL 14 and transaction_timeout from 17: older servers refuse the name.
 */
async function pinSessionTimeouts(session: Session): Promise<void> {
  const [row] = await session.query<{ v: number }>("select current_setting('server_version_num')::int as v");
  const version = row?.v ?? 0;
  const settings = ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'];
  if (version >= 140000) settings.push('idle_session_timeout');
  if (version >= 170000) settings.push('transaction_timeout');
  await session.exec(settings.map((name) => `SET ${name} = 0;`).join(' '));
}

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
  const session: Session = db.capabilities.sharedSession
    ? { ...db, query: (t, p) => db.query(t, p), exec: (t) => db.exec(t), copyFrom: (t, d) => db.copyFrom(t, d), copyTo: (t) => db.copyTo(t), backendPid: null, closed: new AbortController().signal, release: async () => {} }
    : await db.session();
  const started = Date.now();
  let lastReport = -Infinity;
  try {
    // Only a server's timeouts can end the session (PGlite has no other clients, no server).
    if (db.capabilities.otherClients) await pinSessionTimeouts(session);
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
    // Where other clients connect, one may be a pooler that hands our statements to any backend.
    if (db.capabilities.otherClients) {
      try {
        await assertNotPooled(db, session, key, backendPid);
      } catch (error) {
        await session.query('select pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => {});
        throw error;
      }
    }
    let released = false;
    const { classid, objid } = lockKeyParts(key);
    const lost = new AbortController();
    const loseWith = (error: AdvisoryLockError) => {
      if (!released && !lost.signal.aborted) lost.abort(error);
    };
    // Heard at once: the lock's connection closing (terminated, server gone, network dropped).
    const onClosed = () => loseWith(new AdvisoryLockError('LOCK_LOST', `The connection that holds the Mosaic lock on ${db.location.display} was closed (the session was terminated, or the server went away): stopping before anything more is written. Re-run to resume.`, { cause: session.closed.reason }));
    if (session.closed.aborted) onClosed();
    else session.closed.addEventListener('abort', onClosed, { once: true });
    // And a light periodic check, for a lock lost with its connection still open.
    let checking: Promise<void> = Promise.resolve();
    const timer = db.capabilities.otherClients
      ? setInterval(() => {
        checking = held.assertHeld().catch((error: unknown) => loseWith(error as AdvisoryLockError));
      }, options.checkEveryMs ?? 5000)
      : undefined;
    timer?.unref();
    const held: HeldLock = {
      key,
      backendPid,
      lost: lost.signal,
      fenceSql: `do $$ begin if not exists (select 1 from pg_locks where locktype = 'advisory' and classid = ${classid}::oid and objid = ${objid}::oid and objsubid = 1 and granted and pid = ${Number(backendPid)} and database = (select oid from pg_database where datname = current_database())) then raise exception using errcode = '${FENCE_SQLSTATE}', message = 'the Mosaic lock is no longer held by this run'; end if; end $$`,
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
        clearInterval(timer);
        session.closed.removeEventListener('abort', onClosed);
        await checking;
        try {
          await session.query('select pg_advisory_unlock($1::bigint)', [key.toString()]);
        } finally {
          await session.release();
        }
      },
    };
    return held;
  } catch (error) {
    await session.release();
    throw error;
  }
}
