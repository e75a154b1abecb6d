import { describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createTestDatabase } from '@mosaic/test-harness';
import { finished, runCli, startCli } from './run-cli.js';

// The Mosaic run lock as pg_locks shows it (packages/advisory-lock, MOSAIC_LOCK_KEY).
const HOLDER_SQL = "select l.pid, a.application_name as app from pg_locks l join pg_stat_activity a using (pid) where l.locktype = 'advisory' and l.classid = 1299149665 and l.objid = 1768095745 and l.objsubid = 1 and l.granted and a.datname = current_database()";

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function lockHolder(url: string): Promise<{ pid: number; app: string } | undefined> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql.unsafe(HOLDER_SQL);
    return row as { pid: number; app: string } | undefined;
  } finally {
    await sql.end();
  }
}

async function messageRows(url: string): Promise<number> {
  const sql = postgres(url, { max: 1 });
  try {
    const [row] = await sql`select count(*)::int as n from messages`;
    return row!.n as number;
  } finally {
    await sql.end();
  }
}

/** An initialised database and a seed (a writer holding the lock for seconds) under way. */
async function seedHoldingLock(scale: number) {
  const url = await createTestDatabase();
  expect((await runCli(['storage', 'init', '--url', url])).status).toBe(0);
  const seed = startCli(['storage', 'seed', '--url', url, '--scale', String(scale)]);
  const holder = await waitFor('the seed to take the lock', () => lockHolder(url));
  expect(holder.app).toBe('mosaic storage seed');
  return { url, seed, holder };
}

async function waitingInit(url: string, extra: string[] = []) {
  const init = startCli(['storage', 'init', '--url', url, ...extra]);
  await waitFor('init to report the holder', async () => (init.output.stderr.includes('held by pid') ? true : undefined));
  return init;
}

describe('two processes and the Mosaic lock', () => {
  it('the second waits, names the holder, and proceeds when the first finishes', async () => {
    const { url, seed, holder } = await seedHoldingLock(100);
    const init = await waitingInit(url);
    expect(init.output.stderr).toContain('Waiting for the Mosaic lock (key 5579805325552451585)');
    expect(init.output.stderr).toMatch(new RegExp(`held by pid ${holder.pid}, mosaic storage seed, connected since \\d{4}-`));
    const seeded = await finished(seed, ['seed']);
    expect(seeded.status, seeded.stderr).toBe(0);
    const initialised = await finished(init, ['init']);
    expect(initialised.status, initialised.stderr).toBe(0);
    expect(initialised.stdout).toContain('already a Mosaic standalone store');
    expect(await messageRows(url)).toBeGreaterThan(10_000);
  });

  it('the first stopped by SIGINT releases the lock at once and writes nothing; the second proceeds', async () => {
    const { url, seed } = await seedHoldingLock(300);
    const init = await waitingInit(url);
    seed.kill('SIGINT');
    const stopped = await finished(seed, ['seed']);
    expect(stopped.status).toBe(130);
    expect(stopped.stderr).toContain('mosaic: interrupted (SIGINT): releasing the lock and closing connections');
    const initialised = await finished(init, ['init'], 20_000);
    expect(initialised.status, initialised.stderr).toBe(0);
    expect(await messageRows(url)).toBe(0);
  });

  it('the first killed with kill -9: the server frees the lock with the session; nothing half-written', async () => {
    const { url, seed } = await seedHoldingLock(300);
    const init = await waitingInit(url);
    seed.kill('SIGKILL');
    await seed.closed;
    const initialised = await finished(init, ['init'], 20_000);
    expect(initialised.status, initialised.stderr).toBe(0);
    expect(await messageRows(url)).toBe(0);
  });

  it('--lock-timeout 2 gives up with exit 3 after about 2 s, naming the holder', async () => {
    const { url, seed, holder } = await seedHoldingLock(300);
    const started = Date.now();
    const init = await runCli(['storage', 'init', '--url', url, '--lock-timeout', '2']);
    const elapsed = Date.now() - started;
    seed.kill('SIGKILL');
    await seed.closed;
    expect(init.status).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(5000);
    const last = init.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(new RegExp(`^mosaic: Gave up after 2 s waiting for the Mosaic lock .* held by pid ${holder.pid}, mosaic storage seed.*pg_terminate_backend\\(${holder.pid}\\)`));
    expect(init.stderr).not.toMatch(/^\s+at /m);
  });
});
