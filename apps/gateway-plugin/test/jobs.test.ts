import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { MOSAIC_LOCK_KEY } from '@mosaic/advisory-lock';
import { openDatabase, redactUrl } from '@mosaic/connection';
import { createTestDatabase, startTcpProxy, tempStorePath, withPassword } from '@mosaic/test-harness';
import { GatewayStartupError } from '../src/index.js';
import { INSERT_NOTE, mosaic, readSse, rollBackRetired, startGateway, storeWithTokens } from './gateway.js';
import type { Gateway, SseEvent } from './gateway.js';

/** How many times the concurrency cases run (MOSAIC_TEST_LOOPS; 10 for a soak). */
const LOOPS = Number(process.env.MOSAIC_TEST_LOOPS ?? 2);

interface JobView {
  id: string;
  state: string;
  step: string;
  cutover: string;
  lockTimeoutSeconds: number;
  error: { code: string; message: string } | null;
  report: { result?: { ok: boolean; tables: Array<{ table: string; status: string }> }; error?: unknown } | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = async (what: string, ok: () => Promise<boolean>, limitMs = 15_000) => {
  const end = Date.now() + limitMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
};

/** Whether the `events` row `id` is in the PostgreSQL database at `url`. */
async function inTarget(url: string, id: string): Promise<boolean> {
  const c = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await c`select 1 from events where id = ${id}`).length === 1;
  } finally {
    await c.end();
  }
}

/** Whether the `events` row `id` is in the PGlite store at `dir` (no gateway may hold it). */
async function inStore(dir: string, id: string): Promise<boolean> {
  const db = await openDatabase(dir);
  try {
    return (await db.query('select 1 from events where id = $1', [id])).length === 1;
  } finally {
    await db.close();
  }
}

/** The admin and note routes of one gateway. */
function client(gw: () => Gateway, token: () => string) {
  const auth = () => ({ authorization: `Bearer ${token()}`, 'content-type': 'application/json' });
  const job = async (id: string) => (await (await fetch(`${gw().url}/admin/storage/migrations/${id}`, { headers: auth() })).json()) as JobView;
  return {
    auth,
    job,
    ended: async (id: string, limitMs = 15_000) => {
      let view: JobView | undefined;
      await until(`job ${id} to end`, async () => (view = await job(id)).state !== 'running', limitMs);
      return view!;
    },
    startJob: async (body: Record<string, unknown>) => {
      const res = await fetch(`${gw().url}/admin/storage/migrations`, { method: 'POST', headers: auth(), body: JSON.stringify({ to: 'federated', ...body }) });
      expect(res.status, await res.clone().text()).toBe(202);
      return ((await res.json()) as { id: string }).id;
    },
    cancel: (id: string) => fetch(`${gw().url}/admin/storage/migrations/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token()}` } }),
    note: (body: Record<string, unknown> = {}) => fetch(`${gw().url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  };
}

describe('migration jobs that end (in-gateway PGlite source)', () => {
  let store: string;
  let token: string;
  let gw: Gateway;
  let closed = false;
  const { auth, startJob, job, ended, cancel, note } = client(() => gw, () => token);

  beforeAll(async () => {
    store = tempStorePath('jobs');
    ({ valid: token } = await storeWithTokens(store, 'local', 3));
    gw = await startGateway(store, 'local', undefined, { writeDrainSeconds: 2, keepJobs: 3 });
  }, 120_000);
  afterAll(async () => {
    if (!closed) await gw.close();
  });
  // A verified job retires the store (the next start would refuse it): each case begins on a
  // store that takes writes, rolled back as an operator does (unfence) if the last one retired it.
  beforeEach(async () => {
    if (!closed) await rollBackRetired(gw);
  }, 30_000);

  it(`a write in flight when a job starts is waited for and reaches the target (${LOOPS} times); a new one is refused with 503 + Retry-After, and after the job WRITES_RETIRED`, async () => {
    let inTargetCount = 0;
    for (let i = 0; i < LOOPS; i++) {
      // The round before retired the store: the operator's rollback, so this round has a source that takes writes.
      expect(await rollBackRetired(gw)).toBe(i > 0);
      const target = await createTestDatabase();
      const id = randomUUID();
      const inFlight = note({ id, holdMs: 400 }); // inside app.mosaicStore.write() for 400 ms
      await until('the write to be in flight', async () => ((await (await fetch(`${gw.url}/admin/storage/state`, { headers: auth() })).json()) as { inFlightWrites: number }).inFlightWrites === 1);
      const jobId = await startJob({ targetUrl: target });
      const refused = await note({ id: randomUUID() });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('7');
      const answered = await inFlight;
      const view = await ended(jobId, 60_000);
      expect(view.state, JSON.stringify(view.error)).toBe('succeeded');
      // Acknowledged, so it must be in the target: the job's snapshot came after its commit.
      expect(answered.status).toBe(201);
      expect(await inTarget(target, id)).toBe(true);
      // Verified, so retired: a write now would be lost at cutover, and is refused instead.
      const after = await note({ id: randomUUID() });
      expect(after.status).toBe(503);
      expect(after.headers.get('retry-after')).toBe('7');
      expect(await after.json()).toMatchObject({ code: 'WRITES_RETIRED' });
      inTargetCount += 1;
    }
    expect(inTargetCount).toBe(LOOPS);
    console.info(`[jobs.test] in-flight write at job start: ${inTargetCount}/${LOOPS} acknowledged and in the target`);
  }, 60_000 + LOOPS * 60_000);

  it('a request that got past the freeze check just before a job started is refused by write(): 503 + Retry-After, written nowhere', async () => {
    const target = await createTestDatabase();
    const id = randomUUID();
    const late = note({ id, waitMs: 600 }); // in the handler, not yet in write(), when the job starts
    await sleep(150);
    const jobId = await startJob({ targetUrl: target });
    const answered = await late;
    expect(answered.status).toBe(503);
    expect(answered.headers.get('retry-after')).toBe('7');
    expect(await answered.json()).toMatchObject({ code: 'WRITES_FROZEN' });
    expect(await ended(jobId, 60_000)).toMatchObject({ state: 'succeeded' });
    expect(await inTarget(target, id)).toBe(false);
    expect(((await gw.app.mosaicStore.query<{ n: number }>('select count(*)::int as n from events where id = $1', [id]))[0])?.n).toBe(0);
  }, 60_000);

  it('a write still in flight after the drain bound: the job ends WRITES_IN_FLIGHT having copied nothing, the freeze lifts, the write lands in the source', async () => {
    const target = await createTestDatabase();
    const id = randomUUID();
    const inFlight = note({ id, holdMs: 3500 }); // longer than writeDrainSeconds (2)
    await until('the write to be in flight', async () => ((await (await fetch(`${gw.url}/admin/storage/state`, { headers: auth() })).json()) as { inFlightWrites: number }).inFlightWrites === 1);
    const jobId = await startJob({ targetUrl: target });
    const view = await ended(jobId);
    expect(view).toMatchObject({ state: 'failed', error: { code: 'WRITES_IN_FLIGHT' } });
    expect((await inFlight).status).toBe(201);
    expect((await note()).status).toBe(201);
    const c = postgres(target, { max: 1, onnotice: () => {} });
    try {
      expect((await c`select count(*)::int as n from pg_tables where schemaname = 'public'`)[0]!['n']).toBe(0);
    } finally {
      await c.end();
    }
  }, 60_000);

  it(`DELETE cancels a running job at its next chunk: it ends cancelled, per-table statuses kept, the freeze lifts (${LOOPS} times)`, async () => {
    let cancelledMidway = 0;
    for (let i = 0; i < LOOPS; i++) {
      const target = await createTestDatabase();
      const u = new URL(target);
      // The target behind a proxy the test can pause: the run stands still between the first
      // finished table and the cancel, so the cancel lands mid-run every time.
      const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
      try {
        const jobId = await startJob({ targetUrl: proxy.url(target) });
        let cancelling: Promise<Response> | undefined;
        const events = await readSse(`${gw.url}/admin/storage/migrations/${jobId}/events`, token, (e) => {
          if (!cancelling && e.type === 'table-done') {
            proxy.pause();
            cancelling = cancel(jobId).finally(() => proxy.resume());
          }
        });
        expect(cancelling).toBeDefined();
        const del = await cancelling!;
        expect(del.status).toBe(202);
        expect(events.at(-1)).toMatchObject({ type: 'report', state: 'cancelled' });
        const view = await job(jobId);
        expect(view).toMatchObject({ state: 'cancelled', step: 'ended', error: { code: 'JOB_CANCELLED' } });
        const tables = view.report?.result?.tables ?? [];
        expect(tables.length).toBeGreaterThan(15);
        expect(tables.some((t) => t.status === 'copied')).toBe(true);
        expect(tables.some((t) => t.status !== 'copied')).toBe(true);
        expect(view.report?.result?.ok).toBe(false);
        expect((await note()).status).toBe(201);
        expect((await cancel(jobId)).status).toBe(409); // it has ended
        cancelledMidway += 1;
      } finally {
        proxy.resume();
        await proxy.close();
      }
    }
    expect(cancelledMidway).toBe(LOOPS);
    console.info(`[jobs.test] cancel during a run: ${cancelledMidway}/${LOOPS} ended cancelled mid-way`);
  }, 60_000 + LOOPS * 60_000);

  it('a job waiting for the run lock: cancelled within seconds, or ends LOCK_TIMEOUT after its lockTimeoutSeconds; writes frozen meanwhile, thawed after', async () => {
    const target = await createTestDatabase();
    const holder = postgres(target, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${MOSAIC_LOCK_KEY.toString()}::bigint)`;
      const first = await startJob({ targetUrl: target, lockTimeoutSeconds: 600, cutover: 'live' });
      await until('the job to wait for the lock', async () => (await job(first)).step === 'waiting-for-lock');
      expect((await note()).status).toBe(503);
      const asked = Date.now();
      expect((await cancel(first)).status).toBe(202);
      const view = await ended(first, 10_000);
      expect(Date.now() - asked).toBeLessThan(5_000);
      expect(view).toMatchObject({ state: 'cancelled', cutover: 'live', lockTimeoutSeconds: 600, error: { code: 'JOB_CANCELLED' } });
      expect((await note()).status).toBe(201);

      const second = await startJob({ targetUrl: target, lockTimeoutSeconds: 1 });
      const timedOut = await ended(second, 10_000);
      expect(timedOut).toMatchObject({ state: 'failed', cutover: 'restart', error: { code: 'LOCK_TIMEOUT' } });
      expect(timedOut.error?.message).toMatch(/Gave up after 1 s waiting for the Mosaic lock/);
      expect((await note()).status).toBe(201);
    } finally {
      await holder.end();
    }
  }, 60_000);

  it('a failed job keeps its per-table statuses; finished jobs are kept to the last few (keepJobs 3)', async () => {
    const target = await createTestDatabase();
    const u = new URL(target);
    const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    const jobId = await startJob({ targetUrl: proxy.url(target) });
    let cut = false;
    const events = await readSse(`${gw.url}/admin/storage/migrations/${jobId}/events`, token, (e: SseEvent) => {
      if (!cut && e.type === 'table-done') {
        cut = true;
        void proxy.close(); // the target goes away mid-run
      }
    });
    expect(events.at(-1)).toMatchObject({ type: 'report', state: 'failed' });
    const view = await job(jobId);
    expect(view.state).toBe('failed');
    const statuses = new Set((view.report?.result?.tables ?? []).map((t) => t.status));
    expect(statuses.has('copied')).toBe(true);
    expect([...statuses].some((s) => s !== 'copied')).toBe(true);

    for (let i = 0; i < 4; i++) await ended(await startJob({ targetUrl: await createTestDatabase(), dryRun: true }));
    const list = (await (await fetch(`${gw.url}/admin/storage/migrations`, { headers: auth() })).json()) as JobView[];
    expect(list).toHaveLength(3);
    expect(list.every((j) => j.state === 'succeeded')).toBe(true);
    expect((await fetch(`${gw.url}/admin/storage/migrations/${jobId}`, { headers: auth() })).status).toBe(404);
  }, 120_000);

  it('close() with a job still running: the job is cancelled after closeTimeoutSeconds and close completes', async () => {
    await gw.close();
    closed = true;
    const bounded = await startGateway(store, 'local', undefined, { closeTimeoutSeconds: 1 });
    const target = await createTestDatabase();
    const holder = postgres(target, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${MOSAIC_LOCK_KEY.toString()}::bigint)`;
      const res = await fetch(`${bounded.url}/admin/storage/migrations`, { method: 'POST', headers: auth(), body: JSON.stringify({ to: 'federated', targetUrl: target, lockTimeoutSeconds: 600 }) });
      const { id } = (await res.json()) as { id: string };
      const jobs = bounded.app.mosaicJobs;
      await until('the job to wait for the lock', async () => jobs.get(id)?.step === 'waiting-for-lock');
      const asked = Date.now();
      await bounded.close();
      expect(Date.now() - asked).toBeLessThan(8_000);
      expect(jobs.get(id)).toMatchObject({ state: 'cancelled', error: { code: 'JOB_CANCELLED', message: expect.stringMatching(/shut down/) } });
    } finally {
      await holder.end();
    }
  }, 60_000);
});

describe('a verified job retires an in-gateway PGlite store (DESIGN 5.10)', () => {
  it('restart cutover: writes answer 503 WRITES_RETIRED naming the target (redacted); a gateway started again on the directory refuses (STORE_MOVED) until `mosaic storage unfence`', async () => {
    const store = tempStorePath('retire');
    const { valid: token } = await storeWithTokens(store, 'local', 2);
    let gw: Gateway | undefined = await startGateway(store, 'local');
    const { startJob, ended, note } = client(() => gw!, () => token);
    try {
      const target = withPassword(await createTestDatabase(), 'retire-secret-pw'); // trust auth ignores it; never shown
      const shown = redactUrl(target);
      expect(shown).not.toContain('retire-secret-pw');
      const before = randomUUID();
      expect((await note({ id: before })).status).toBe(201);

      const view = await ended(await startJob({ targetUrl: target, cutover: 'restart' }), 60_000);
      expect(view.state, JSON.stringify(view.error)).toBe('succeeded');
      expect(view.report).toMatchObject({ fence: { state: 'retired', retired: { tier: 'federated', location: shown } } });
      expect(await inTarget(target, before)).toBe(true);

      const late = randomUUID();
      const refused = await note({ id: late });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('7');
      const body = (await refused.json()) as { code: string; message: string };
      expect(body.code).toBe('WRITES_RETIRED');
      expect(body.message).toContain(shown);
      expect(body.message).not.toContain('retire-secret-pw');
      expect(gw.app.mosaicStore).toMatchObject({ engine: 'pglite', frozen: true }); // restart mode: no switch
      expect(gw.logs.join('')).not.toContain('retire-secret-pw');
      await gw.close();
      gw = undefined;
      expect(await inStore(store, late)).toBe(false);
      expect(await inTarget(target, late)).toBe(false);

      // The fence is in the store, not in the gateway's memory: a gateway started again on it refuses.
      const error = await startGateway(store, 'local').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GatewayStartupError);
      expect(error).toMatchObject({ code: 'STORE_MOVED' });
      const message = (error as Error).message;
      expect(message).toContain(`moved to the federated tier at ${shown}`);
      expect(message).toContain(`mosaic storage unfence --url ${store}`);
      expect(message).not.toContain('retire-secret-pw');

      // The operator's rollback: the CLI unfences the directory, and a gateway serves it again.
      const cli = await mosaic(['storage', 'unfence', '--url', store, '--yes']);
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stdout).toContain('takes writes again');
      gw = await startGateway(store, 'local');
      const again = randomUUID();
      expect((await note({ id: again })).status).toBe(201);
      await gw.close();
      gw = undefined;
      expect(await inStore(store, again)).toBe(true);
    } finally {
      await gw?.close();
    }
  }, 180_000);

  it("live cutover (a job's `cutover: 'live'`): the handle switches to the target, writes through app.mosaicStore land there, the old directory stays retired", async () => {
    const store = tempStorePath('retire-live');
    const { valid: token } = await storeWithTokens(store, 'local', 2);
    let gw: Gateway | undefined = await startGateway(store, 'local');
    const { auth, startJob, note } = client(() => gw!, () => token);
    try {
      const target = await createTestDatabase();
      const jobId = await startJob({ targetUrl: target, cutover: 'live' });
      // Followed on its event stream: once switched, the admin routes read tokens from the target,
      // which has none (admin_tokens is not migrated), so polling the job would answer 401.
      const report = (await readSse(`${gw.url}/admin/storage/migrations/${jobId}/events`, token)).at(-1);
      expect(report, JSON.stringify(report)).toMatchObject({ type: 'report', state: 'succeeded', report: { cutover: 'live', fence: { state: 'retired' } } });
      // Switched before the job's end became visible: no retired window for this gateway.
      expect(gw.app.mosaicStore).toMatchObject({ engine: 'postgres', tier: 'federated', location: redactUrl(target), frozen: false });
      expect((await fetch(`${gw.url}/admin/storage/state`, { headers: auth() })).status).toBe(401);
      const id = randomUUID();
      expect((await note({ id })).status).toBe(201);
      expect(await inTarget(target, id)).toBe(true);
      const direct = randomUUID();
      await gw.app.mosaicStore.write((db) => db.query(INSERT_NOTE, [direct, 'written by the app itself']));
      expect(await inTarget(target, direct)).toBe(true);
      await gw.close();
      gw = undefined;
      expect(await inStore(store, id)).toBe(false);
      await expect(startGateway(store, 'local')).rejects.toMatchObject({ code: 'STORE_MOVED', message: expect.stringContaining(redactUrl(target)) });
    } finally {
      await gw?.close();
    }
  }, 180_000);
});
