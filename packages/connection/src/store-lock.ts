import { hostname } from 'node:os';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionError } from './errors.js';

/**
 * PGlite never guards its data directory, and two processes (or two instances in one
 * process) opening one corrupt it silently. Every opener takes this lock first: a file in
 * the store naming the holder. It is created atomically (link(2) of a private temp file
 * fails if the lock exists) and recovered when its holder's pid is gone (kill -9, crash).
 */
export const STORE_LOCK_FILE = 'mosaic.lock';

export interface StoreLockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface StoreLock {
  readonly path: string;
  release(): void;
}

const heldInThisProcess = new Set<string>();

function readHolder(path: string): StoreLockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StoreLockHolder;
  } catch {
    return undefined; // vanished, or half-written by a holder that died mid-write
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockStore(dir: string): StoreLock {
  const path = join(dir, STORE_LOCK_FILE);
  const me: StoreLockHolder = {
    pid: process.pid,
    host: hostname(),
    command: process.argv.slice(1).join(' ').slice(0, 200),
    since: new Date().toISOString(),
  };
  const tmp = `${path}.${process.pid}.${Date.now()}`;
  if (heldInThisProcess.has(path)) {
    throw new ConnectionError('STORE_LOCKED', `PGlite store ${dir} is already open in this process (pid ${process.pid}); close it before opening it again.`);
  }
  writeFileSync(tmp, JSON.stringify(me));
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, path);
        heldInThisProcess.add(path);
        return { path, release: () => release(path) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readHolder(path);
      if (holder && (holder.host !== me.host || isAlive(holder.pid))) {
        const where = holder.host === me.host ? `process ${holder.pid}` : `process ${holder.pid} on host ${holder.host}`;
        throw new ConnectionError(
          'STORE_LOCKED',
          `PGlite store ${dir} is in use by ${where} (${holder.command || 'unknown command'}, since ${holder.since}): stop that process first; if it is gone, delete ${path}.`,
        );
      }
      // Stale: the holder died without releasing. Move it aside (atomic) and try again.
      try {
        renameSync(path, `${path}.stale.${process.pid}`);
        unlinkSync(`${path}.stale.${process.pid}`);
      } catch {
        // another opener recovered it first; the next link attempt decides
      }
    }
    throw new ConnectionError('STORE_LOCKED', `PGlite store ${dir} is being opened by another process right now; try again.`);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

function release(path: string): void {
  heldInThisProcess.delete(path);
  const holder = readHolder(path);
  if (holder?.pid === process.pid) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
