import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempStorePath } from '@mosaic/test-harness';
import { openDatabase, STORE_LOCK_FILE } from '../src/index.js';

/** A second process that opens the store and holds it until killed. */
function holdStore(dir: string): Promise<{ pid: number; kill: (signal: NodeJS.Signals) => Promise<void> }> {
  const script = `
    import { openDatabase } from '@mosaic/connection';
    const db = await openDatabase(${JSON.stringify(dir)});
    process.stdout.write('open\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`holder exited early (${code})`)));
    child.stdout.once('data', () => resolve({
      pid: child.pid!,
      kill: (signal) => new Promise((done) => {
        child.removeAllListeners('exit');
        child.once('exit', () => done());
        child.kill(signal);
      }),
    }));
  });
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
