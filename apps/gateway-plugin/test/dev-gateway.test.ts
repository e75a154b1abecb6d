import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { MOSAIC_LOCK_KEY } from '@mosaic/advisory-lock';
import { createTestDatabase } from '@mosaic/test-harness';
import { storeWithTokens } from './gateway.js';

/** How many times three gateways are started at once (MOSAIC_TEST_LOOPS; 10 for a soak). */
const LOOPS = Number(process.env.MOSAIC_TEST_LOOPS ?? 2);
const ROOT = new URL('../../..', import.meta.url).pathname;
/**
 * An input of the gateway plugin's build that the test changes before each round, so the first
 * gateway of the round finds its build out of date, as after a `git pull`: that is when three
 * `nx run-many -t build` started together each ran `rm -rf dist && tsc` and broke each other's
 * imports (ERR_MODULE_NOT_FOUND). Removed after the file.
 */
const STAMP = join(ROOT, 'apps', 'gateway-plugin', 'dev-gateway-test.stamp');

interface Running {
  child: ChildProcess;
  output: string;
  url: string;
  token: string;
}

/** `npm run gateway` exactly as a developer types it, in a process group of its own (killed as one). */
function startDevGateway(store: string, cutover: 'live' | 'restart'): Promise<Running> {
  const child = spawn('npm', ['run', 'gateway'], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOSAIC_GATEWAY_STORE: store, MOSAIC_GATEWAY_PORT: '0', MOSAIC_GATEWAY_CUTOVER: cutover, NO_COLOR: '1' },
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no gateway after 180 s:\n${output}`)), 180_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const url = /Mosaic dev gateway on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      const token = /admin token \(valid 1 day\): (\S+)/.exec(output)?.[1];
      if (url && token) {
        clearTimeout(timer);
        resolve({ child, get output() { return output; }, url, token });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm run gateway exited ${code} before serving:\n${output}`));
    });
  });
}

async function stop(g: { child: ChildProcess }): Promise<void> {
  if (g.child.exitCode !== null || g.child.signalCode !== null) return;
  const exited = new Promise((r) => g.child.once('exit', r));
  process.kill(-g.child.pid!, 'SIGTERM');
  const killed = setTimeout(() => process.kill(-g.child.pid!, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(killed);
}

const note = (g: Running, body: unknown) => fetch(`${g.url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const admin = (g: Running, path: string, init: RequestInit = {}) =>
  fetch(`${g.url}/admin/storage${path}`, { ...init, headers: { authorization: `Bearer ${g.token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });

describe('npm run gateway: three at once on one PostgreSQL 15 store', () => {
  let store: string;
  let sql: postgres.Sql;
  const started: Running[] = [];

  beforeAll(async () => {
    store = await createTestDatabase('devgw', 'standalone');
    await storeWithTokens(store, 'standalone', 1);
    sql = postgres(store, { max: 2, onnotice: () => {} });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(started.map(stop));
    rmSync(STAMP, { force: true });
    await sql?.end();
  });

  it(`three started together all serve, build once, issue working tokens and write notes (${LOOPS} rounds)`, async () => {
    let rounds = 0;
    for (let round = 0; round < LOOPS; round++) {
      writeFileSync(STAMP, `${randomUUID()}\n`);
      const gateways = await Promise.all([startDevGateway(store, 'live'), startDevGateway(store, 'restart'), startDevGateway(store, 'restart')]);
      started.push(...gateways);
      for (const g of gateways) expect(g.output).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
      // Builds took turns under the lock: the first found the build out of date and built the
      // plugin; the others found it current and left dist/ alone.
      const built = gateways.filter((g) => /^> nx run @mosaic\/gateway-plugin:build\s*$/m.test(g.output)); // not a `[local cache]` replay
      expect(built, gateways.map((g) => g.output).join('\n-----\n')).toHaveLength(1);

      for (const [i, g] of gateways.entries()) {
        const state = await admin(g, '/state');
        expect(state.status).toBe(200); // its own token, inserted into the PostgreSQL store
        expect(await state.json()).toMatchObject({ tier: 'standalone', cutover: i === 0 ? 'live' : 'restart', frozen: false });
      }

      const ids = gateways.map(() => Array.from({ length: 20 }, () => randomUUID()));
      const answers = await Promise.all(gateways.flatMap((g, i) => ids[i]!.map((id) => note(g, { id, note: `round ${round} from gateway ${i}` }))));
      expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
      const all = ids.flat();
      const [row] = await sql`select count(*)::int as n from events where id = any(${all}::uuid[]) and type = 'note'`;
      expect(row!['n']).toBe(60);

      expect((await note(gateways[1]!, { id: 'not-a-uuid', note: 'x' })).status).toBe(400);
      expect((await note(gateways[1]!, { id: randomUUID() })).status).toBe(400);
      expect((await note(gateways[2]!, { id: all[0], note: 'again' })).status).toBe(409);

      if (round === 0) {
        // A job on one gateway freezes its writes (503 + Retry-After) until it ends; here it waits
        // for a run lock the test holds, and is cancelled.
        const target = await createTestDatabase('devgw-target', 'federated');
        const holder = postgres(target, { max: 1, onnotice: () => {} });
        try {
          await holder`select pg_advisory_lock(${MOSAIC_LOCK_KEY.toString()}::bigint)`;
          const res = await admin(gateways[0]!, '/migrations', { method: 'POST', body: JSON.stringify({ to: 'federated', targetUrl: target, lockTimeoutSeconds: 60 }) });
          expect(res.status, await res.clone().text()).toBe(202);
          const { id } = (await res.json()) as { id: string };
          const frozen = await note(gateways[0]!, { id: randomUUID(), note: 'during the freeze' });
          expect(frozen.status).toBe(503);
          expect(frozen.headers.get('retry-after')).toBe('30');
          expect((await admin(gateways[0]!, `/migrations/${id}`, { method: 'DELETE' })).status).toBe(202);
          const end = Date.now() + 15_000;
          let state = 'running';
          while (state === 'running' && Date.now() < end) {
            await new Promise((r) => setTimeout(r, 100));
            state = ((await (await admin(gateways[0]!, `/migrations/${id}`)).json()) as { state: string }).state;
          }
          expect(state).toBe('cancelled');
          expect((await note(gateways[0]!, { id: randomUUID(), note: 'after' })).status).toBe(201);
        } finally {
          await holder.end();
        }
      }

      await Promise.all(gateways.map(stop));
      rounds += 1;
    }
    expect(rounds).toBe(LOOPS);
    console.info(`[dev-gateway.test] three gateways at once: ${rounds}/${LOOPS} rounds, all serving, one build each round`);
  }, 120_000 + LOOPS * 240_000);
});
