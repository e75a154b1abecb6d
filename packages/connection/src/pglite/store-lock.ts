import { hostname } from 'node:os';
import { closeSync, fstatSync, linkSync, openSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConnectionError } from '../errors.js';
import { redactText } from '../location.js';

/**
 * PGlite never guards its data directory, and two processes (or two instances in one
 * process) opening one corrupt it silently. Every opener takes this lock first: a file in
 * the store naming the holder. It is created atomically (link(2) of a private temp file
 * fails if the lock exists) and recovered when its holder is gone: dead (kill -9, crash), a
 * zombie nobody has reaped yet, or its pid now belongs to another process.
 */
export const STORE_LOCK_FILE = 'mosaic.lock';

export interface StoreLockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
  /**
   * The holder's start time in clock ticks after boot (/proc/PID/stat field 22), where /proc
   * exists: a live process with the same pid and another start time is not the holder. Lock
   * files written before this field existed lack it.
   */
  startTime?: string;
  /**
   * The holder's PID namespace (readlink /proc/self/ns/pid, "pid:[4026531836]"), where /proc
   * exists. Two containers on one host may share its hostname and the store's directory but not
   * their pids: a holder in another PID namespace cannot be checked from here, so it counts as
   * alive, like one on another host.
   */
  pidNamespace?: string;
}

export interface StoreLock {
  readonly path: string;
  release(): void;
}

/** How an opener behaves when another process holds the store (`OpenOptions.storeLock`). */
export interface StoreLockOptions {
  /** Wait for the holder to let go (exit, however it exits). Default false: STORE_LOCKED at once. */
  wait?: boolean;
  /** With `wait`: give up after this many seconds (STORE_LOCK_TIMEOUT). Undefined: as long as it takes. */
  timeoutSeconds?: number | undefined;
  /** With `wait`: called at once when the store is found held, then every `reportEveryMs`. */
  onWait?: (holder: StoreLockHolder | undefined, waitedMs: number) => void;
  /** Default 3000. */
  reportEveryMs?: number;
  /** How often the lock is tried again while waiting. Default 100. */
  pollMs?: number;
  /** Aborting stops the wait with STORE_LOCKED. */
  signal?: AbortSignal | undefined;
}

const heldInThisProcess = new Set<string>();

/** State (field 3) and start time (field 22) of a process, from /proc; undefined where unreadable. */
function procStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 is the command in parentheses and may itself hold spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const startTime = fields[19];
    return state && startTime ? { state, startTime } : undefined;
  } catch {
    return undefined;
  }
}

/** The lock file's holder (undefined if it is not JSON) and inode; undefined if there is no file. */
function readHolder(path: string): { holder: StoreLockHolder | undefined; ino: number; mtimeMs: number } | undefined {
  let fd: number | undefined;
  try {
    // Content and inode from one open file: the inode tells a later rename which file it moved.
    fd = openSync(path, 'r');
    const { ino, mtimeMs } = fstatSync(fd);
    try {
      return { holder: JSON.parse(readFileSync(fd, 'utf8')) as StoreLockHolder, ino, mtimeMs };
    } catch {
      return { holder: undefined, ino, mtimeMs };
    }
  } catch {
    return undefined; // vanished between the failed link and this read
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A lock file that is not JSON this long after it was written is garbage (a crash of the machine, not of a holder). */
const GARBAGE_AFTER_MS = 10_000;

/**
 * Whether a holder on this host has gone. kill(pid, 0) alone counts a zombie as alive: a
 * killed process stays one until its parent reaps it (for ever where PID 1 does not reap, as
 * in many containers), and a recycled pid looks alive too.
 */
function holderGone(holder: StoreLockHolder): boolean {
  // Our own pid, and we do not hold it: written by an earlier process that had this pid.
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  const stat = procStat(holder.pid);
  if (!stat) return false; // no /proc (or hidden from us): alive, as far as we can tell
  if (stat.state === 'Z' || stat.state === 'X') return true;
  return holder.startTime !== undefined && holder.startTime !== stat.startTime;
}

/** "pid 123 (mosaic.js storage seed ...), since 2026-...", for messages. */
export function describeStoreLockHolder(holder: StoreLockHolder | undefined): string {
  if (!holder) return 'another process (it let go just now)';
  const where = elsewhere(holder);
  return `pid ${holder.pid}${where} (${holder.command || 'unknown command'}), since ${holder.since}`;
}

type Attempt = { lock: StoreLock } | { holder: StoreLockHolder | undefined };

/** One try: the lock, or the live holder that has it. Stale locks are recovered on the way. */
function tryLock(path: string, me: StoreLockHolder): Attempt {
  const tmp = `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  writeFileSync(tmp, JSON.stringify(me));
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, path);
        heldInThisProcess.add(path);
        return { lock: { path, release: () => release(path) } };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const found = readHolder(path);
      if (!found) continue; // released between the link and the read: try again
      const { holder } = found;
      if (!holder) {
        // Lock files are linked whole, so this is a machine crash's leftover: recovered once old.
        if (Date.now() - found.mtimeMs < GARBAGE_AFTER_MS) return { holder: undefined };
      } else if (!sameProcessSpace(holder, me) || !holderGone(holder)) {
        return { holder };
      }
      recoverStale(path, found.ino, holder);
    }
    return { holder: readHolder(path)?.holder };
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/**
 * Moves a stale lock aside. Another opener may have recovered it and taken the lock between our
 * read and the rename: the file moved is then checked (inode and holder), and a live lock moved by
 * mistake is linked back. Not covered: a third opener linking its own lock in the instant between
 * that rename and the link back (three openers and a stale lock within microseconds).
 */
function recoverStale(path: string, ino: number, stale: StoreLockHolder | undefined): void {
  const aside = `${path}.stale.${process.pid}.${Date.now()}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // another opener recovered it first; the next link decides
  }
  const moved = readHolder(aside);
  const same = moved !== undefined && moved.ino === ino && moved.holder?.pid === stale?.pid && moved.holder?.since === stale?.since;
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // a third opener took the free path in that instant (see above)
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** Whether the holder's pid can be checked from here: same host, and (where both recorded it) same PID namespace. */
function sameProcessSpace(holder: StoreLockHolder, me: StoreLockHolder): boolean {
  if (holder.host !== me.host) return false;
  return holder.pidNamespace === undefined || me.pidNamespace === undefined || holder.pidNamespace === me.pidNamespace;
}

const elsewhere = (holder: StoreLockHolder): string => {
  if (holder.host !== hostname()) return ` on host ${holder.host}`;
  const ns = pidNamespace();
  return holder.pidNamespace && ns && holder.pidNamespace !== ns ? ` in another PID namespace (${holder.pidNamespace}: another container)` : '';
};

function holderOf(): StoreLockHolder {
  const argv = process.argv.slice(1);
  // `node -e` has no script: the executable's name says at least what kind of process it is.
  const command = [basename(argv[0] ?? process.execPath), ...argv.slice(1)].join(' ');
  const startTime = procStat(process.pid)?.startTime;
  const ns = pidNamespace();
  return {
    pid: process.pid,
    host: hostname(),
    // Redacted: the file is readable by anyone who can read the store, and its text is printed.
    command: redactText(command).slice(0, 200),
    since: new Date().toISOString(),
    ...(startTime ? { startTime } : {}),
    ...(ns ? { pidNamespace: ns } : {}),
  };
}

function lockedError(dir: string, path: string, holder: StoreLockHolder | undefined): ConnectionError {
  if (!holder) return new ConnectionError('STORE_LOCKED', `PGlite store ${dir} is being opened by another process right now; try again.`);
  const where = `process ${holder.pid}${elsewhere(holder)}`;
  return new ConnectionError(
    'STORE_LOCKED',
    `PGlite store ${dir} is in use by ${where} (${holder.command || 'unknown command'}, since ${holder.since}): stop that process first; if it is gone, delete ${path}.`,
  );
}

function refuseSameProcess(dir: string, path: string): void {
  if (heldInThisProcess.has(path)) {
    throw new ConnectionError('STORE_LOCKED', `PGlite store ${dir} is already open in this process (pid ${process.pid}); close it before opening it again.`);
  }
}

/** Takes the store lock or fails at once with STORE_LOCKED naming the holder. */
export function lockStore(dir: string): StoreLock {
  const path = join(dir, STORE_LOCK_FILE);
  refuseSameProcess(dir, path);
  const result = tryLock(path, holderOf());
  if ('lock' in result) return result.lock;
  throw lockedError(dir, path, result.holder);
}

const sleep = (ms: number, signal: AbortSignal | undefined) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Takes the store lock; with `wait`, polls (never blocking the event loop) until the holder lets
 * go or is gone, reporting it through `onWait`, up to `timeoutSeconds`. A second open in this
 * process is refused at once either way: waiting for ourselves would never end.
 */
export async function acquireStoreLock(dir: string, options: StoreLockOptions = {}): Promise<StoreLock> {
  if (!options.wait) return lockStore(dir);
  const path = join(dir, STORE_LOCK_FILE);
  const pollMs = options.pollMs ?? 100;
  const reportEveryMs = options.reportEveryMs ?? 3000;
  const started = Date.now();
  let lastReport = -Infinity;
  for (;;) {
    refuseSameProcess(dir, path);
    const result = tryLock(path, holderOf());
    if ('lock' in result) return result.lock;
    const waitedMs = Date.now() - started;
    if (options.signal?.aborted) {
      throw new ConnectionError('STORE_LOCKED', `Stopped waiting for the PGlite store lock on ${dir}: held by ${describeStoreLockHolder(result.holder)}.`);
    }
    if (options.timeoutSeconds !== undefined && waitedMs >= options.timeoutSeconds * 1000) {
      throw new ConnectionError(
        'STORE_LOCK_TIMEOUT',
        `Gave up after ${options.timeoutSeconds} s waiting for the PGlite store lock on ${dir}: held by ${describeStoreLockHolder(result.holder)}. Wait for that process to finish, or stop it; if it is gone, delete ${path}.`,
      );
    }
    if (waitedMs - lastReport >= reportEveryMs) {
      lastReport = waitedMs;
      options.onWait?.(result.holder, waitedMs);
    }
    const left = options.timeoutSeconds !== undefined ? options.timeoutSeconds * 1000 - waitedMs : pollMs;
    await sleep(Math.max(10, Math.min(pollMs, left)), options.signal);
  }
}

function release(path: string): void {
  heldInThisProcess.delete(path);
  const found = readHolder(path);
  if (found?.holder?.pid === process.pid) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
