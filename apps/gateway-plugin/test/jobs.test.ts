import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { MOSAIC_LOCK_KEY } from '@mosaic/advisory-lock';
import { createTestDatabase, startTcpProxy, tempStorePath } from '@mosaic/test-harness';
import { readSse, startGateway, storeWithTokens } from './gateway.js';
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

describe('migration jobs that end (in-gateway PGlite source)', () => {
  let store: string;
  let token: string;
  let gw: Gateway;
  let closed = false;
  const auth = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const startJob = async (body: Record<string, unknown>) => {
    const res = await fetch(`${gw.url}/admin/storage/migrations`, { method: 'POST', headers: auth(), body: JSON.stringify({ to: 'federated', ...body }) });
    expect(res.status, await res.clone().text()).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const job = async (id: string) => (await (await fetch(`${gw.url}/admin/storage/migrations/${id}`, { headers: auth() })).json()) as JobView;
  const cancel = (id: string) => fetch(`${gw.url}/admin/storage/migrations/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  const note = (body: Record<string, unknown> = {}) => fetch(`${gw.url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const until = async (what: string, ok: () => Promise<boolean>, limitMs = 15_000) => {
    const end = Date.now() + limitMs;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  };
  const ended = async (id: string, limitMs = 15_000) => {
    let view: JobView | undefined;
    await until(`job ${id} to end`, async () => (view = await job(id)).state !== 'running', limitMs);
    return view!;
  };
  async function inTarget(url: string, id: string): Promise<boolean> {
    const c = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return (await c`select 1 from events where id = ${id}`).length === 1;
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    store = tempStorePath('jobs');
    ({ valid: token } = await storeWithTokens(store, 'local', 3));
    gw = await startGateway(store, 'local', undefined, { writeDrainSeconds: 2, keepJobs: 3 });
  }, 120_000);
  afterAll(async () => {
    if (!closed) await gw.close();
  });

  it(`a write in flight when a job starts is waited for and reaches the target (${LOOPS} times); a new one is refused with 503 + Retry-After`, async () => {
    let inTargetCount = 0;
    for (let i = 0; i < LOOPS; i++) {
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
      inTargetCount += 1;
    }
    expect(inTargetCount).toBe(LOOPS);
    console.info(`[jobs.test] in-flight write at job start: ${inTargetCount}/${LOOPS} acknowledged and in the target`);
  }, 60_000 + LOOPS * 60_000);

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
