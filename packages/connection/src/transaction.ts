import type { Session } from './types.js';

/**
 * Runs `fn` inside BEGIN/COMMIT on `session`, ROLLBACK when it throws; the session stays the
 * caller's. Database.transaction() is this on a session of its own; a caller that commits many
 * transactions in a row (one per copied chunk) keeps one session and calls this for each.
 */
export async function inTransaction<T>(session: Session, fn: (tx: Session) => Promise<T>): Promise<T> {
  await session.exec('BEGIN');
  try {
    const result = await fn(session);
    await session.exec('COMMIT');
    return result;
  } catch (error) {
    await session.exec('ROLLBACK').catch(() => {});
    throw error;
  }
}
