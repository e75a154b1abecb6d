import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempStorePath } from '@mosaic/test-harness';
import { openDatabase, STORE_LOCK_FILE } from '../src/index.js';
import type { StoreLockHolder } from '../src/index.js';

const holderScript = (dir: string, closeAfterMs?: number) => `
    import { openDatabase } from '@mosaic/connection';
    const db = await openDatabase(${JSON.stringify(dir)});
    process.stdout.write('open\\n');
    ${closeAfterMs === undefined ? 'setInterval(() => {}, 1000);' : `setTimeout(() => db.close(), ${closeAfterMs});`}`;

/** A second process that opens the store and holds it until killed (or closes it after `closeAfterMs`). */
function holdStore(dir: string, closeAfterMs?: number): Promise<{ pid: number; exited: Promise<void>; kill: (signal: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', holderScript(dir, closeAfterMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    const early = () => reject(new Error('holder exited before opening the store'));
    child.once('exit', early);
    child.stdout.once('data', () => {
      child.removeListener('exit', early);
      resolve({
        pid: child.pid!,
        exited,
        kill: (signal) => {
          child.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** /proc/PID/stat field 3. */
const procState = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
};

let template: string | undefined;

/** A store with one row, copied from one made once (a PGlite initdb takes seconds on a busy machine). */
async function createStore(): Promise<string> {
  if (!template) {
    template = tempStorePath('template');
    const db = await openDatabase(template, { create: true });
    await db.exec("create table kept (v text); insert into kept values ('intact')");
    await db.close();
  }
  const dir = tempStorePath();
  cpSync(template, dir, { recursive: true });
  return dir;
}

async function expectIntact(dir: string): Promise<void> {
  const db = await openDatabase(dir);
  try {
    expect(await db.query('select v from kept')).toEqual([{ v: 'intact' }]);
  } finally {
    await db.close();
  }
}

describe('PGlite store lock', () => {
  it('refuses a second opener in another process, naming the holder; recovers after kill -9', async () => {
    const dir = tempStorePath();
    const db = await openDatabase(dir, { create: true });
    await db.exec('create table kept (v text); insert into kept values (\'intact\')');
    await db.close();
    expect(existsSync(join(dir, STORE_LOCK_FILE))).toBe(false);

    const holder = await holdStore(dir);
    const error = await openDatabase(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_LOCKED' });
    expect((error as Error).message).toContain(`process ${holder.pid}`);

    await holder.kill('SIGKILL');
    expect(JSON.parse(readFileSync(join(dir, STORE_LOCK_FILE), 'utf8')).pid).toBe(holder.pid); // stale lock left behind
    const reopened = await openDatabase(dir);
    try {
      expect(await reopened.query('select v from kept')).toEqual([{ v: 'intact' }]);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('refuses a second open in the same process', async () => {
    const dir = tempStorePath();
    const db = await openDatabase(dir, { create: true });
    try {
      await expect(openDatabase(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    } finally {
      await db.close();
    }
  });

  it('refuses a directory that is not a PGlite store, and a missing one', async () => {
    const dir = tempStorePath();
    await expect(openDatabase(dir)).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    const file = `${dir}-file`;
    writeFileSync(file, 'x');
    await expect(openDatabase(file)).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY' });
  });
});

describe('PGlite store lock: waiting for another process', () => {
  beforeAll(async () => {
    await createStore();
  }, 120_000);

  it('fails at once by default (STORE_LOCKED naming the holder), even while a waiter could wait', async () => {
    const dir = await createStore();
    const holder = await holdStore(dir);
    try {
      const started = Date.now();
      const error = await openDatabase(dir).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'STORE_LOCKED' });
      expect((error as Error).message).toContain(`process ${holder.pid}`);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await holder.kill('SIGKILL');
    }
  }, 60_000);

  it('waits, reporting the holder, and proceeds when the holder closes the store and exits', async () => {
    const dir = await createStore();
    const holder = await holdStore(dir, 1500);
    const reports: Array<{ holder: StoreLockHolder | undefined; waitedMs: number }> = [];
    const db = await openDatabase(dir, { storeLock: { wait: true, reportEveryMs: 400, onWait: (h, waitedMs) => reports.push({ holder: h, waitedMs }) } });
    try {
      expect(await db.query('select v from kept')).toEqual([{ v: 'intact' }]);
      expect(reports.length).toBeGreaterThanOrEqual(2);
      expect(reports[0]!.holder).toMatchObject({ pid: holder.pid, host: hostname() });
      expect(reports[0]!.holder!.command).toBe('node'); // node -e: no script name
      expect(reports[0]!.waitedMs).toBeLessThan(1000);
      expect(reports.at(-1)!.waitedMs).toBeGreaterThanOrEqual(400);
    } finally {
      await db.close();
    }
    await holder.exited;
  }, 60_000);

  it('waits and proceeds when the holder is killed with SIGKILL', async () => {
    const dir = await createStore();
    const holder = await holdStore(dir);
    const reports: number[] = [];
    const opening = openDatabase(dir, { storeLock: { wait: true, onWait: (h) => reports.push(h!.pid) } });
    await new Promise((r) => setTimeout(r, 500));
    await holder.kill('SIGKILL');
    const db = await opening;
    try {
      expect(reports).toEqual([holder.pid]);
      expect(await db.query('select v from kept')).toEqual([{ v: 'intact' }]);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('gives up after timeoutSeconds with STORE_LOCK_TIMEOUT naming the holder, without blocking the event loop', async () => {
    const dir = await createStore();
    const holder = await holdStore(dir);
    try {
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 50);
      const started = Date.now();
      const error = await openDatabase(dir, { storeLock: { wait: true, timeoutSeconds: 1 } }).catch((e: unknown) => e);
      clearInterval(ticker);
      expect(error).toMatchObject({ code: 'STORE_LOCK_TIMEOUT' });
      expect((error as Error).message).toMatch(new RegExp(`^Gave up after 1 s waiting for the PGlite store lock on .*: held by pid ${holder.pid} \\(node\\), since \\d{4}-`));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(ticks).toBeGreaterThanOrEqual(5);
    } finally {
      await holder.kill('SIGKILL');
    }
  }, 60_000);

  it('stops waiting when the signal aborts (STORE_LOCKED)', async () => {
    const dir = await createStore();
    const holder = await holdStore(dir);
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const started = Date.now();
      const error = await openDatabase(dir, { storeLock: { wait: true, signal: controller.signal } }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'STORE_LOCKED' });
      expect((error as Error).message).toContain(`Stopped waiting for the PGlite store lock on ${dir}: held by pid ${holder.pid}`);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await holder.kill('SIGKILL');
    }
  }, 60_000);

  it('counts a zombie holder as gone: a killed holder whose parent never reaps it', async () => {
    const dir = await createStore();
    // sh starts the holder, then becomes sleep, which never waits for its child.
    const parent = spawn('sh', ['-c', '"$0" --input-type=module -e "$1" & echo "pid $!"; exec sleep 600', process.execPath, holderScript(dir)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      const pid = await new Promise<number>((resolve, reject) => {
        parent.on('error', reject);
        parent.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /pid (\d+)\n[^]*open\n/.exec(out);
          if (m) resolve(Number(m[1]));
        });
      });
      expect(JSON.parse(readFileSync(join(dir, STORE_LOCK_FILE), 'utf8')).pid).toBe(pid);
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && procState(pid) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(procState(pid)).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow(); // what made kill(pid, 0) call it alive
      await expectIntact(dir); // fail-fast default: recovered at once, no wait
      expect(procState(pid)).toBe('Z');
    } finally {
      parent.kill('SIGKILL');
    }
  }, 60_000);

  it('counts a recycled pid as gone (start time differs), and keeps honouring a lock file without a start time', async () => {
    const dir = await createStore();
    const lockPath = join(dir, STORE_LOCK_FILE);
    // A live process (our parent) under the holder's pid, but started at another time.
    const recycled = { pid: process.ppid, host: hostname(), command: 'mosaic.js storage seed', since: '2026-01-01T00:00:00.000Z', startTime: '1' };
    writeFileSync(lockPath, JSON.stringify(recycled));
    await expectIntact(dir);
    expect(existsSync(lockPath)).toBe(false);
    // Written by an older version (no startTime): a live pid still holds it.
    const older: StoreLockHolder = { ...recycled };
    delete older.startTime;
    writeFileSync(lockPath, JSON.stringify(older));
    await expect(openDatabase(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    writeFileSync(lockPath, JSON.stringify({ ...older, pid: 2 ** 22 + 1 })); // above pid_max: no such process
    await expectIntact(dir);
  }, 60_000);

  it('honours a holder in another PID namespace (a container sharing the host name and the directory): its pid cannot be checked from here', async () => {
    const dir = await createStore();
    const lockPath = join(dir, STORE_LOCK_FILE);
    const gone = 2 ** 22 + 1; // no such pid here: a holder in our namespace with it would be recovered
    const other: StoreLockHolder = { pid: gone, host: hostname(), command: 'mosaic.js storage seed', since: '2026-01-01T00:00:00.000Z', pidNamespace: 'pid:[1]' };
    writeFileSync(lockPath, JSON.stringify(other));
    await expect(openDatabase(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`process ${gone} in another PID namespace (pid:[1]: another container)`) });
    expect(existsSync(lockPath)).toBe(true);
    // The same holder recorded in our own namespace: its pid is checked, and it is gone.
    writeFileSync(lockPath, JSON.stringify({ ...other, pidNamespace: readlinkSync('/proc/self/ns/pid') }));
    await expectIntact(dir);
  }, 60_000);

  it('refuses a second open in the same process at once, even when asked to wait', async () => {
    const dir = await createStore();
    const db = await openDatabase(dir);
    try {
      await expect(openDatabase(dir, { storeLock: { wait: true, timeoutSeconds: 30 } })).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining('already open in this process') });
    } finally {
      await db.close();
    }
  });

  it('records the holder with its start time (/proc/PID/stat field 22)', async () => {
    const dir = await createStore();
    const db = await openDatabase(dir);
    try {
      const holder = JSON.parse(readFileSync(join(dir, STORE_LOCK_FILE), 'utf8')) as StoreLockHolder;
      expect(holder.pid).toBe(process.pid);
      expect(holder.startTime).toMatch(/^\d+$/);
      const stat = readFileSync('/proc/self/stat', 'utf8');
      expect(holder.startTime).toBe(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    } finally {
      await db.close();
    }
  });
});
