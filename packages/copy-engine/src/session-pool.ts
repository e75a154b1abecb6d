import type { Database, Session } from '@mosaic/connection';

/**
 * The target sessions of a run, kept between tables: a job that ends a table hands its session
 * to the next table instead of closing it (a new one is a backend start, authentication and the
 * session settings: about 10 ms, paid by each of the tables a run copies, most of them small).
 * A session goes back only when its user says it is clean (every chunk committed or rolled back)
 * and its connection is alive. An engine whose one session is shared (PGlite) never pools: an
 * idle session held here would stop every other statement.
 */
export interface SessionPool {
  acquire(): Promise<Session>;
  /** `reusable`: no transaction open, nothing left behind; otherwise the session is closed. */
  release(session: Session, reusable: boolean): Promise<void>;
  /** Closes the idle sessions; later releases close theirs. */
  close(): Promise<void>;
}

export function sessionPool(db: Database): SessionPool {
  const idle: Session[] = [];
  let closed = false;
  return {
    async acquire() {
      for (let s = idle.pop(); s; s = idle.pop()) {
        if (!s.closed.aborted) return s;
        await s.release();
      }
      return db.session();
    },
    async release(session, reusable) {
      if (reusable && !closed && !db.capabilities.sharedSession && !session.closed.aborted) idle.push(session);
      else await session.release();
    },
    async close() {
      closed = true;
      await Promise.all(idle.splice(0).map((s) => s.release()));
    },
  };
}
