import { openDatabase, parseLocation } from '@mosaic/connection';
import type { Database, Location, OpenOptions } from '@mosaic/connection';
import { acquireAdvisoryLock, describeHolder, MOSAIC_LOCK_KEY } from '@mosaic/advisory-lock';
import type { HeldLock } from '@mosaic/advisory-lock';
import type { Output } from './output.js';
import { onShutdown } from './shutdown.js';

export interface ConnectArgs {
  connectTimeout?: number | undefined;
}

/** Opens a location for a command; closed on return, on error and on Ctrl-C. */
export async function withLocation<T>(
  location: string | Location,
  options: OpenOptions & ConnectArgs,
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  const loc = typeof location === 'string' ? parseLocation(location) : location;
  const db = await openDatabase(loc, {
    ...options,
    ...(options.connectTimeout !== undefined ? { connectTimeoutSeconds: options.connectTimeout } : {}),
  });
  const unregister = onShutdown(() => db.close());
  try {
    return await fn(db);
  } finally {
    unregister();
    await db.close();
  }
}

/** Takes the Mosaic lock on `db` for `fn`, telling the operator who holds it while waiting. */
export async function withLock<T>(db: Database, out: Output, tag: string, timeoutSeconds: number | undefined, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  let announced = false;
  const lock = await acquireAdvisoryLock(db, {
    timeoutSeconds,
    reportEveryMs: 3000,
    onWait: ({ holder, waitedMs }) => {
      if (!announced) out.info(`[${tag}] Waiting for the Mosaic lock (key ${MOSAIC_LOCK_KEY}) on ${db.location.display}`);
      announced = true;
      out.info(`[${tag}]   held by ${describeHolder(holder)}; waited ${Math.round(waitedMs / 1000)} s${timeoutSeconds !== undefined ? ` of ${timeoutSeconds}` : ''}`);
    },
  });
  const unregister = onShutdown(() => lock.release());
  try {
    return await fn(lock);
  } finally {
    unregister();
    await lock.release();
  }
}
