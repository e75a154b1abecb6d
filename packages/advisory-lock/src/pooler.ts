import type { Database, Session } from '@mosaic/connection';
import { AdvisoryLockError } from './errors.js';
import { lockKeyParts } from './key.js';

/** Resolves after `ms`, unless cleared first; never keeps the process alive on its own. */
function sleep(ms: number): { done: Promise<void>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((r) => {
    timer = setTimeout(r, ms);
    timer.unref();
  });
  return { done, clear: () => clearTimeout(timer) };
}

/**
 * A transaction-mode pooler (PgBouncer pool_mode=transaction and the like) hands each
 * statement to whichever backend is free: a session lock would be taken on a backend we do
 * not keep, protecting nothing. Direct connections pass all three checks at once:
 * 1. a second client that opens a transaction gets a backend other than the lock's;
 * 2. while it holds that transaction, our next statement is not made to wait;
 * 3. that statement runs on the lock's backend, which holds the lock.
 */
export async function assertNotPooled(db: Database, session: Session, key: bigint, lockPid: number): Promise<void> {
  const { classid, objid } = lockKeyParts(key);
  const probe = await db.session();
  let pooled: string | undefined;
  try {
    await probe.exec('BEGIN');
    const [p] = await probe.query<{ pid: number }>('select pg_backend_pid() as pid');
    if (p?.pid === lockPid) pooled = `a second client was given the lock's backend (pid ${lockPid})`;
    const check = session.query<{ pid: number; held: boolean }>(
      `select pg_backend_pid() as pid, exists(select 1 from pg_locks where locktype = 'advisory' and classid = $1::oid and objid = $2::oid
         and objsubid = 1 and granted and pid = pg_backend_pid()) as held`,
      [classid, objid],
    );
    // The timer is cleared once the check answers: left running it kept a finished CLI alive for up to 2 s.
    const wait = sleep(2000);
    const first = await Promise.race([check, wait.done.then(() => 'blocked' as const)]);
    wait.clear();
    await probe.exec('ROLLBACK');
    const result = first === 'blocked' ? await check : first;
    if (first === 'blocked') pooled ??= 'a statement waited for another client\'s transaction to end';
    const row = result[0];
    if (!pooled && (row?.pid !== lockPid || !row.held)) pooled = `the next statement ran on backend ${row?.pid}, not the lock's ${lockPid}`;
  } finally {
    await probe.release();
  }
  if (pooled) {
    throw new AdvisoryLockError(
      'POOLER_DETECTED',
      `${db.location.display} goes through a transaction-mode connection pooler (${pooled}): a session lock cannot protect the migration there. Connect directly to PostgreSQL (bypass PgBouncer), or use session pool mode.`,
    );
  }
}
