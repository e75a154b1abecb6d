import { describeStoreLockHolder, openDatabase, parseLocation } from '@mosaic/connection';
import type { Database, Location, OpenOptions } from '@mosaic/connection';
import { acquireAdvisoryLock, describeHolder, MOSAIC_LOCK_KEY } from '@mosaic/advisory-lock';
import type { HeldLock } from '@mosaic/advisory-lock';
import type { Output } from './output.js';
import { onShutdown } from './shutdown.js';

export interface ConnectArgs {
  connectTimeout?: number | undefined;
}

/** A command's way to wait for a PGlite store another process has open. */
export interface StoreWait {
  out: Output;
  /** The command's tag in messages: `[<tag>] Waiting for the PGlite store lock on ...`. */
  tag: string;
  /** --lock-timeout: give up (STORE_LOCK_TIMEOUT, exit 3) after this many seconds. */
  timeoutSeconds?: number | undefined;
}

/**
 * The store lock options of a command: wait for the holder, say who it is every 3 s (stderr, not
 * with --json), give up after --lock-timeout, stop at Ctrl-C. Returns the unregister function.
 */
function storeLockWait(dir: string, wait: StoreWait): { storeLock: NonNullable<OpenOptions['storeLock']>; done: () => void } {
  const { out, tag, timeoutSeconds } = wait;
  const controller = new AbortController();
  const done = onShutdown(async () => controller.abort());
  let announced = false;
  return {
    done,
    storeLock: {
      wait: true,
      timeoutSeconds,
      reportEveryMs: 3000,
      signal: controller.signal,
      onWait: (holder, waitedMs) => {
        if (!announced) out.info(`[${tag}] Waiting for the PGlite store lock on ${dir}`);
        announced = true;
        out.info(`[${tag}]   held by ${describeStoreLockHolder(holder)}; waited ${Math.round(waitedMs / 1000)} s${timeoutSeconds !== undefined ? ` of ${timeoutSeconds}` : ''}`);
      },
    },
  };
}

/**
 * Opens a location for a command; closed on return, on error and on Ctrl-C. With `storeWait`, a
 * PGlite store that another process has open is waited for instead of refused.
 */
export async function withLocation<T>(
  location: string | Location,
  options: OpenOptions & ConnectArgs & { storeWait?: StoreWait | undefined },
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  const loc = typeof location === 'string' ? parseLocation(location) : location;
  const { storeWait, connectTimeout, ...open } = options;
  const wait = storeWait && loc.engine === 'pglite' ? storeLockWait(loc.display, storeWait) : undefined;
  let db: Database;
  try {
    db = await openDatabase(loc, {
      ...open,
      ...(connectTimeout !== undefined ? { connectTimeoutSeconds: connectTimeout } : {}),
      ...(wait ? { storeLock: wait.storeLock } : {}),
    });
  } finally {
    wait?.done();
  }
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
