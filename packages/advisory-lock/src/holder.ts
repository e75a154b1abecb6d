import type { Queryable } from '@mosaic/connection';
import { lockKeyParts } from './key.js';

export interface LockHolder {
  readonly pid: number;
  readonly applicationName: string;
  /** When the holder's session connected (it takes the lock right after). */
  readonly since: string | null;
  readonly client: string | null;
}

/** Who holds the advisory lock in this database, read from pg_locks + pg_stat_activity. */
export async function readHolder(db: Queryable, key: bigint): Promise<LockHolder | undefined> {
  const { classid, objid } = lockKeyParts(key);
  const [row] = await db.query<{ pid: number; app: string | null; since: string | null; client: string | null }>(
    `select l.pid, a.application_name as app, a.backend_start as since, a.client_addr::text as client
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.classid = $1::oid and l.objid = $2::oid and l.objsubid = 1 and l.granted
        and l.database = (select oid from pg_database where datname = current_database())
      limit 1`,
    [classid, objid],
  );
  return row ? { pid: row.pid, applicationName: row.app ?? '', since: row.since, client: row.client } : undefined;
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'a session that has just let go';
  const app = holder.applicationName ? `, ${holder.applicationName}` : '';
  const since = holder.since ? `, connected since ${holder.since}` : '';
  return `pid ${holder.pid}${app}${since}`;
}
