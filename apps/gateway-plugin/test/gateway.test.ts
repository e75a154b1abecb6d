import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '@mosaic/connection';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { GatewayStartupError } from '../src/index.js';
import { mosaic, readSse, rollBackRetired, startGateway, storeWithTokens } from './gateway.js';
import type { Gateway, SseEvent } from './gateway.js';

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password; // trust auth ignores it; it must still never be shown
  return u.toString();
};

/** The parts of a migration report that must not depend on who ran it (not the target's name, run id or timings). */
function comparable(report: Record<string, unknown>) {
  const result = report['result'] as { ok: boolean; rows: number; tables: Array<Record<string, unknown>> };
  const verification = report['verification'] as { ok: boolean };
  return {
    to: report['to'], mode: report['mode'], tables: report['tables'], skipped: report['skipped'], totalRows: report['totalRows'], warnings: report['warnings'],
    result: { ok: result.ok, rows: result.rows, tables: result.tables.map(({ seconds: _seconds, ...t }) => t) }, verified: verification.ok,
  };
}

async function sql(url: string, text: string): Promise<unknown[]> {
  const c = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return [...(await c.unsafe(text))];
  } finally {
    await c.end();
  }
}

describe('gateway plugin over HTTP', () => {
  let store: string;
  let tokens: { valid: string; expired: string };
  let gw: Gateway;
  let closed = false;
  let finalReport: Record<string, unknown> | undefined;
  const auth = () => ({ authorization: `Bearer ${tokens.valid}` });

  beforeAll(async () => {
    store = tempStorePath('gateway');
    tokens = await storeWithTokens(store, 'local');
    gw = await startGateway(store, 'local');
  }, 120_000);
  afterAll(async () => {
    if (gw && !closed) await gw.close();
  });

  it('logs the detected tier at start-up', () => {
    expect(gw.logs.join('')).toContain('mosaic storage: local tier at');
  });

  it('admin routes: 401 without, with a wrong and with an expired token; 200 with a valid one; the token never logged', async () => {
    const tier = `${gw.url}/admin/storage/tier`;
    expect((await fetch(tier)).status).toBe(401);
    expect((await fetch(tier, { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    const expired = await fetch(tier, { headers: { authorization: `Bearer ${tokens.expired}` } });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { message: string }).message).toMatch(/expired/);
    const ok = await fetch(tier, { headers: auth() });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ tier: 'local', engine: 'pglite', schema: { version: 1 } });
    const logs = gw.logs.join('');
    expect(logs).not.toContain(tokens.valid);
    expect(logs).not.toContain(tokens.expired);
  });

  it('a bad body is 400 naming the field and the reason', async () => {
    const res = await fetch(`${gw.url}/admin/storage/migrations`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ to: 'cloud', targetUrl: 'x' }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/body\/to must be equal to one of the allowed values|body\/targetUrl/);
  });

  it('a migration job: 202, SSE events in order, writes frozen meanwhile, target verified, the store retired after, no password anywhere', async () => {
    const target = withPassword(await createTestDatabase(), 'hunter2-secret');
    const start = await fetch(`${gw.url}/admin/storage/migrations`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ to: 'federated', targetUrl: target }) });
    expect(start.status).toBe(202);
    const { id } = (await start.json()) as { id: string };

    const frozen = await fetch(`${gw.url}/api/notes`, { method: 'POST' });
    expect(frozen.status).toBe(503);
    expect(frozen.headers.get('retry-after')).toBe('7');
    expect((await fetch(`${gw.url}/api/notes`)).status).toBe(200); // reads go on

    const events = await readSse(`${gw.url}/admin/storage/migrations/${id}/events`, tokens.valid);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('phase');
    expect(types.at(-1)).toBe('report');
    const at = (type: string, table: string) => events.findIndex((e) => e.type === type && e.table === table);
    // Each table starts before it is done, and all are done before the report. Across tables no
    // order holds: two jobs load a fresh target's tables at once, its foreign keys off.
    const started = [...new Set(events.filter((e) => e.type === 'table-start').map((e) => String(e.table)))];
    expect(started).toContain('users');
    expect(started).toContain('team_members');
    for (const table of started) {
      expect(at('table-start', table), table).toBeLessThan(at('table-done', table));
      expect(at('table-done', table), table).toBeLessThan(events.length - 1);
    }
    const report = events.at(-1) as SseEvent & { state: string; report: { verification: { ok: boolean }; totalRows: number; result: { ok: boolean } } };
    expect(report.state).toBe('succeeded');
    expect(report.report.result.ok).toBe(true);
    expect(report.report.verification.ok).toBe(true);
    finalReport = report.report as unknown as Record<string, unknown>;

    const job = (await (await fetch(`${gw.url}/admin/storage/migrations/${id}`, { headers: auth() })).json()) as { state: string; tables: Record<string, { done: boolean }> };
    expect(job.state).toBe('succeeded');
    expect(Object.values(job.tables).every((t) => t.done)).toBe(true);

    const everything = `${gw.logs.join('')}${JSON.stringify(events)}${JSON.stringify(job)}`;
    expect(everything).not.toContain('hunter2-secret');
    expect(everything).not.toContain(tokens.valid);

    const verify = await fetch(`${gw.url}/admin/storage/verify`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ targetUrl: target }) });
    expect(verify.status).toBe(200);
    expect(await verify.json()).toMatchObject({ ok: true });
    // Verified, so the store is retired (restart cutover): a write now would be lost at cutover.
    const retired = await fetch(`${gw.url}/api/notes`, { method: 'POST' });
    expect(retired.status).toBe(503);
    expect(retired.headers.get('retry-after')).toBe('7');
    const refusal = (await retired.json()) as { code: string; message: string };
    expect(refusal.code).toBe('WRITES_RETIRED');
    expect(refusal.message).toContain(new URL(target).pathname.slice(1));
    expect(refusal.message).not.toContain('hunter2-secret');
  });

  it('an admin route that fails answers the status its error code maps to, in one redacted line', async () => {
    const post = (targetUrl: string) => fetch(`${gw.url}/admin/storage/verify`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ targetUrl }) });
    const refused = await post('postgresql://mosaic:p%40ss-refused@127.0.0.1:1/mosaic');
    expect(refused.status).toBe(502);
    const refusedBody = (await refused.json()) as { error: string; message: string };
    expect(refusedBody.error).toBe('CONNECTION_REFUSED');
    expect(refusedBody.message).not.toContain('p%40ss-refused');
    expect(refusedBody.message).not.toContain('\n');
    const empty = await post(withPassword(await createTestDatabase(), 'empty-target-secret'));
    expect(empty.status).toBe(409);
    const emptyBody = (await empty.json()) as { error: string; message: string };
    expect(emptyBody.error).toBe('TARGET_NO_SCHEMA');
    expect(emptyBody.message).not.toContain('empty-target-secret');
  });

  it('a job whose target dies mid-way fails, and the write freeze lifts', async () => {
    // The verified job above retired the store: roll back as an operator does, so there is a freeze to lift.
    await rollBackRetired(gw);
    expect((await fetch(`${gw.url}/api/notes`, { method: 'POST' })).status).toBe(201);
    const target = await createTestDatabase();
    const start = await fetch(`${gw.url}/admin/storage/migrations`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ to: 'federated', targetUrl: target }) });
    const { id } = (await start.json()) as { id: string };
    expect((await fetch(`${gw.url}/api/notes`, { method: 'POST' })).status).toBe(503);
    let killed = false;
    const events = await readSse(`${gw.url}/admin/storage/migrations/${id}/events`, tokens.valid, (e) => {
      if (!killed && e.type === 'table-done') {
        killed = true;
        void sql(inject('pgAdminUrl'), `drop database "${new URL(target).pathname.slice(1)}" with (force)`);
      }
    });
    expect(killed).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'report', state: 'failed' });
    expect((await fetch(`${gw.url}/api/notes`, { method: 'POST' })).status).toBe(201);
  });

  it("the job's final report equals what `mosaic storage migrate-tier --json` reports for the same store", async () => {
    expect(finalReport, 'the migration job test must run first').toBeDefined();
    await gw.close(); // a PGlite store has one owner: the gateway lets go before the CLI opens it
    closed = true;
    // The notes written after the job (the store rolled back, then a failed job's freeze lifted)
    // are the only difference: without them the CLI reads what the job read.
    const db = await openDatabase(store);
    await db.query("delete from events where type = 'note'").finally(() => db.close());
    const target = await createTestDatabase();
    const cli = await mosaic(['storage', 'migrate-tier', '--source', store, '--to', 'federated', '--target-url', target, '--yes', '--json']);
    expect(cli.status, cli.stderr).toBe(0);
    const cliReport = JSON.parse(cli.stdout) as Record<string, unknown>;
    expect(comparable(finalReport!)).toEqual(comparable(cliReport));
    expect((finalReport!['tables'] as unknown[]).length).toBeGreaterThan(15);
  }, 180_000);
});

describe('gateway start-up refusals', () => {
  it('a numeric option out of bounds or not a number: BAD_OPTION, one line naming it, before the store is opened', async () => {
    const missing = tempStorePath('gw-never-opened'); // not a store: an option refusal must come first
    for (const [extra, name] of [[{ heartbeatMs: Number.NaN }, 'heartbeatMs'], [{ writeDrainSeconds: -1 }, 'writeDrainSeconds'], [{ keepJobs: 2.5 }, 'keepJobs'], [{ retryAfterSeconds: '30' }, 'retryAfterSeconds'], [{ cutover: 'later' }, 'cutover']] as const) {
      const error = await startGateway(missing, 'local', undefined, extra as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GatewayStartupError);
      expect(error).toMatchObject({ code: 'BAD_OPTION', message: expect.stringContaining(`option ${name} is `) });
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('configured federated, store is a PGlite (local) store', async () => {
    const store = tempStorePath('gw-local');
    await storeWithTokens(store, 'local', 1);
    const error = await startGateway(store, 'federated').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayStartupError);
    expect(error).toMatchObject({ code: 'TIER_MISMATCH', message: expect.stringMatching(/configured for the federated tier, but its store .* is local/) });
  });

  it('a schema newer than the gateway', async () => {
    const store = await createTestDatabase();
    await storeWithTokens(store, 'standalone', 1);
    await sql(store, 'update mosaic.schema_info set version = 42');
    await expect(startGateway(store, 'standalone')).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW', message: expect.stringMatching(/schema v42, newer than this gateway's v1/) });
  });

  it('the store is the target of an unfinished migration', async () => {
    const store = await createTestDatabase();
    await storeWithTokens(store, 'standalone', 1);
    await sql(store, "insert into mosaic.migration_runs (run_id, source_instance, source_location, source_tier, target_tier, status) values (gen_random_uuid(), gen_random_uuid(), '/old/store', 'local', 'standalone', 'running')");
    await expect(startGateway(store, 'standalone')).rejects.toMatchObject({ code: 'UNFINISHED_MIGRATION', message: expect.stringMatching(/unfinished migration .* from \/old\/store.*resume it with "mosaic storage migrate-tier --source \/old\/store/) });
  });
});
