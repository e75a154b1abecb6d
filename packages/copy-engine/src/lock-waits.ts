import type { Database, Session } from '@mosaic/connection';
import { CopyEngineError } from './errors.js';

/** A session that holds what a statement of the run waits for (pg_blocking_pids). */
export interface LockBlocker {
  readonly pid: number;
  readonly applicationName: string;
  /** pg_stat_activity.state: 'idle in transaction', 'active', ... (null: not visible to this role). */
  readonly state: string | null;
  /** When it entered that state (pg_stat_activity.state_change, text). */
  readonly since: string | null;
}

export interface LockWait {
  readonly side: 'source' | 'target';
  /** The run's own server process that waits. */
  readonly pid: number;
  readonly blockers: readonly LockBlocker[];
  readonly waitedMs: number;
  /** The bound (--lock-timeout) or null when it waits as long as it takes. */
  readonly timeoutMs: number | null;
}

export interface LockWaitOptions {
  /** Report a wait once it has lasted this long, then every `reportEveryMs`. Default 3000 both. */
  reportAfterMs?: number;
  reportEveryMs?: number;
  /** How often pg_stat_activity is read. Default 1000. */
  pollMs?: number;
  /** Cancel a statement that waited this long and fail the run with LOCK_TIMEOUT. */
  timeoutMs?: number | undefined;
}

export interface LockWaitWatcher {
  /** Set once a wait outlasted the timeout and its statement was cancelled. */
  readonly failure: CopyEngineError | undefined;
  /** Cancels the run's statements that wait on a lock now (the run is stopping: none may go on waiting). */
  cancelWaits(): Promise<void>;
  stop(): Promise<void>;
}

type WaitRow = {
  pid: number;
  started: string | null;
  waited_ms: string | null;
  blockers: string;
};

export function describeBlockers(blockers: readonly LockBlocker[]): string {
  if (blockers.length === 0) return 'a session that has just let go';
  return blockers.map((b) => `pid ${b.pid} (${b.applicationName || 'no application_name'}, ${b.state ?? 'state unknown'}${b.since ? ` since ${b.since}` : ''})`).join(', ');
}

/**
 * Watches the run's own backends (Database.backendPids(), no query per statement) for a
 * statement that waits on a lock (pg_stat_activity.wait_event_type = 'Lock'), on a session of
 * its own, and reports who blocks it (pg_blocking_pids) once it has waited `reportAfterMs`,
 * then every `reportEveryMs`. With a timeout, it cancels a statement that waited that long
 * (pg_cancel_backend of our own backend) and records LOCK_TIMEOUT naming the blocker, which
 * `onFailure` hears at once. Nothing on the per-chunk path: one light query a second.
 */
export async function watchLockWaits(
  db: Database, side: LockWait['side'], options: LockWaitOptions, onWait: (wait: LockWait) => void, onFailure: (error: CopyEngineError) => void,
): Promise<LockWaitWatcher> {
  // Only other clients can hold a lock a statement of ours waits for.
  if (!db.capabilities.otherClients) return { failure: undefined, cancelWaits: async () => {}, stop: async () => {} };
  const reportAfterMs = options.reportAfterMs ?? 3000;
  const reportEveryMs = options.reportEveryMs ?? 3000;
  const pollMs = options.pollMs ?? 1000;
  const timeoutMs = options.timeoutMs;
  // Its own session; one that dies (terminated by an administrator, an idle timeout) is opened
  // again at the next poll: the watcher must not go quiet, nor --lock-timeout stop applying.
  let session: Session | undefined = await db.session();
  let version = 0;
  try {
    const [row] = await session.query<{ v: number }>("select current_setting('server_version_num')::int as v");
    version = row?.v ?? 0;
  } catch (error) {
    await session.release();
    throw error;
  }
  const current = async (): Promise<Session> => (session ??= await db.session());
  // PostgreSQL 14+ says when a wait began (pg_locks.waitstart); before, the first sighting counts.
  const waited = version >= 140000
    ? `(select (extract(epoch from clock_timestamp() - min(l.waitstart)) * 1000)::bigint::text from pg_locks l where l.pid = w.pid and not l.granted)`
    : 'null::text';
  const firstSeen = new Map<string, number>();
  const lastReport = new Map<string, number>();
  let failure: CopyEngineError | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let tick: Promise<void> = Promise.resolve();

  const poll = async () => {
    const own = await current();
    const pids = db.backendPids().filter((pid) => pid !== own.backendPid);
    if (pids.length === 0) return;
    const rows = await own.query<WaitRow>(`
      select w.pid, w.query_start::text as started, ${waited} as waited_ms,
             coalesce((select json_agg(json_build_object('pid', b.pid, 'app', b.application_name, 'state', b.state, 'since', b.state_change::text) order by b.pid)
                         from unnest(pg_blocking_pids(w.pid)) bp(pid) left join pg_stat_activity b on b.pid = bp.pid), '[]')::text as blockers
        from pg_stat_activity w
       where w.pid in (${pids.map((p) => Number(p)).join(', ')}) and w.wait_event_type = 'Lock'`);
    const now = Date.now();
    const seen = new Set<string>();
    for (const row of rows) {
      const id = `${row.pid} ${row.started}`;
      seen.add(id);
      if (!firstSeen.has(id)) firstSeen.set(id, now);
      const waitedMs = row.waited_ms !== null ? Number(row.waited_ms) : now - firstSeen.get(id)!;
      const blockers = (JSON.parse(row.blockers) as Array<{ pid: number; app: string | null; state: string | null; since: string | null }>)
        .map((b): LockBlocker => ({ pid: b.pid, applicationName: b.app ?? '', state: b.state, since: b.since }));
      if (timeoutMs !== undefined && waitedMs >= timeoutMs && !failure) {
        failure = new CopyEngineError(
          'LOCK_TIMEOUT',
          `Gave up after ${Math.round(waitedMs / 1000)} s waiting for a lock on the ${side} (--lock-timeout ${Math.round(timeoutMs / 1000)}): blocked by ${describeBlockers(blockers)}. End that transaction${blockers[0] ? ` (or SELECT pg_terminate_backend(${blockers[0].pid});)` : ''} and re-run to resume.`,
        );
        // Only if it still waits: cancelling our own backend stops its statement, and the run.
        const [cancel] = await own.query<{ ok: boolean }>(
          "select coalesce(bool_or(pg_cancel_backend(pid)), false) as ok from pg_stat_activity where pid = $1 and wait_event_type = 'Lock' and query_start::text is not distinct from $2",
          [row.pid, row.started],
        );
        if (cancel?.ok) onFailure(failure);
        else failure = undefined;
        continue;
      }
      if (waitedMs >= reportAfterMs && now - (lastReport.get(id) ?? -Infinity) >= reportEveryMs) {
        lastReport.set(id, now);
        onWait({ side, pid: row.pid, blockers, waitedMs, timeoutMs: timeoutMs ?? null });
      }
    }
    for (const id of [...firstSeen.keys()]) {
      if (!seen.has(id)) {
        firstSeen.delete(id);
        lastReport.delete(id);
      }
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      // A failed poll is not the run's error (a target gone away: the run hears that itself); its
      // session is let go, and the next poll opens another.
      tick = poll().catch(async () => {
        const dead = session;
        session = undefined;
        await dead?.release().catch(() => {});
      }).finally(schedule);
    }, pollMs);
    timer.unref();
  };
  schedule();
  return {
    get failure() {
      return failure;
    },
    async cancelWaits() {
      const own = await current().catch(() => undefined);
      const pids = db.backendPids().filter((pid) => pid !== own?.backendPid);
      if (stopped || !own || pids.length === 0) return;
      await own.query(`select pg_cancel_backend(pid) from pg_stat_activity where pid in (${pids.map((p) => Number(p)).join(', ')}) and wait_event_type = 'Lock'`).catch(() => {});
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await tick;
      await session?.release().catch(() => {});
    },
  };
}
