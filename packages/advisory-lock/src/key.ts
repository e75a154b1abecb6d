/**
 * The one lock every Mosaic migration run takes, on the target database: "Mosaic" followed by
 * 0x0001 as a signed 64-bit key. In pg_locks a bigint advisory key shows as
 * classid = high 32 bits, objid = low 32 bits, objsubid = 1:
 *
 *   select l.pid, a.application_name, a.backend_start
 *     from pg_locks l join pg_stat_activity a using (pid)
 *    where l.locktype = 'advisory' and l.classid = 1299149665 and l.objid = 1768095745 and l.objsubid = 1;
 *
 * Only its own session can pg_advisory_unlock() it; an operator ends a stuck holder with
 * pg_terminate_backend(pid), which releases the lock with the session.
 */
export const MOSAIC_LOCK_KEY = 0x4d6f7361_69630001n; // 5579805325552451585

export function lockKeyParts(key: bigint): { classid: number; objid: number } {
  const unsigned = BigInt.asUintN(64, key);
  return { classid: Number(unsigned >> 32n), objid: Number(unsigned & 0xffffffffn) };
}

/** The SQL an operator runs to see the holder (printed in docs and messages). */
export function holderQuery(key: bigint = MOSAIC_LOCK_KEY): string {
  const { classid, objid } = lockKeyParts(key);
  return `select l.pid, a.application_name, a.backend_start from pg_locks l join pg_stat_activity a using (pid) where l.locktype = 'advisory' and l.classid = ${classid} and l.objid = ${objid} and l.objsubid = 1`;
}
