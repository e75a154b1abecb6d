import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createTestDatabase, expectNoLeak, freePort, passwordArbitrary, placeholderFor, typedPassword, withPassword,
} from '@mosaic/test-harness';
import { readSse, startGateway, storeWithTokens } from './gateway.js';

// Issue #13 item 3, "no password ever leaks", through the gateway plugin: a gateway whose store
// URL and Valkey URL hold a generated password (raw or percent-encoded), then migration jobs
// (a dry run, a real run with its SSE events, a run into a refused port) and a verify against
// a missing database, with the same password in each target URL. Everything is collected:
// Fastify's log stream, every HTTP response body, the SSE events, the status page's data
// (GET /admin/storage/tier), and a start-up refusal. The same gateway with the placeholder
// password is the baseline (see @mosaic/test-harness leaks.ts).

const password = passwordArbitrary({ minLength: 6, maxLength: 20 });

/**
 * Cases (each starts two gateways); MOSAIC_PROPERTY_RUNS overrides, e.g. for a longer hunt.
 * `endOnFailure`: no shrinking here (each step starts the gateways again); the counterexample
 * and its seed are printed as found.
 */
const RUNS = process.env.MOSAIC_PROPERTY_RUNS ? Number(process.env.MOSAIC_PROPERTY_RUNS) : undefined;

const VALKEY = process.env.MOSAIC_VALKEY_URL ?? 'redis://127.0.0.1:6380';

function elsewhere(url: string, change: { port?: number; db?: string }): string {
  const u = new URL(url);
  if (change.port) u.port = String(change.port);
  if (change.db) u.pathname = `/${change.db}`;
  return u.toString();
}

async function waitForJob(base: string, id: string, headers: Record<string, string>): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const text = await (await fetch(`${base}/admin/storage/migrations/${id}`, { headers })).text();
    if (!text.includes('"state":"running"')) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

interface Outcome {
  text: string;
  started: boolean;
  migrated: boolean;
}

/**
 * Each gateway gets a store of its own: a verified migration retires (fences) its source, and two
 * gateways on one store would share one store-wide freeze.
 */
async function gatewayPaths(typed: string, refusedPort: number): Promise<Outcome> {
  const out: string[] = [];
  const store = await createTestDatabase('mosaic_redact_gw');
  const token = (await storeWithTokens(store, 'federated', 1)).valid;
  let gw;
  try {
    gw = await startGateway(withPassword(store, typed), 'federated', withPassword(VALKEY, typed));
  } catch (error) {
    return { text: `## start-up refused: ${(error as { code?: string }).code} ${(error as Error).message}`, started: false, migrated: false };
  }
  let migrated = false;
  try {
    const headers = { authorization: `Bearer ${token}` };
    const json = { ...headers, 'content-type': 'application/json' };
    const post = async (label: string, path: string, body: unknown) => {
      const res = await fetch(`${gw.url}/admin/storage${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) });
      const text = await res.text();
      out.push(`## ${label}: ${res.status} ${res.headers.get('location') ?? ''}\n${text}`);
      return text;
    };
    out.push(`## GET /tier (status page data)\n${await (await fetch(`${gw.url}/admin/storage/tier`, { headers })).text()}`);

    const dryTarget = withPassword(await createTestDatabase('mosaic_redact_gw'), typed);
    const dry = JSON.parse(await post('dry run', '/migrations', { to: 'federated', targetUrl: dryTarget, dryRun: true })) as { id?: string };
    if (dry.id) out.push(`## dry run job\n${await waitForJob(gw.url, dry.id, headers)}`);

    const target = withPassword(await createTestDatabase('mosaic_redact_gw'), typed);
    const run = JSON.parse(await post('migration', '/migrations', { to: 'federated', targetUrl: target })) as { id?: string };
    if (run.id) {
      const events = await readSse(`${gw.url}/admin/storage/migrations/${run.id}/events`, token);
      out.push(`## SSE\n${events.map((e) => JSON.stringify(e)).join('\n')}`);
      const job = await waitForJob(gw.url, run.id, headers);
      out.push(`## job\n${job}`);
      migrated = job.includes('"state":"succeeded"');
      await post('verify', '/verify', { targetUrl: target });
    }

    const refused = withPassword(elsewhere(inject('pgAdminUrl'), { port: refusedPort }), typed);
    const failed = JSON.parse(await post('migration to a refused port', '/migrations', { to: 'federated', targetUrl: refused })) as { id?: string };
    if (failed.id) out.push(`## failed job\n${await waitForJob(gw.url, failed.id, headers)}`);
    await post('verify a missing database', '/verify', { targetUrl: withPassword(elsewhere(inject('pgAdminUrl'), { db: 'mosaic_redact_no_such_db' }), typed) });
    out.push(`## GET /migrations\n${await (await fetch(`${gw.url}/admin/storage/migrations`, { headers })).text()}`);
  } finally {
    await gw.close();
    out.push(`## logs\n${gw.logs.join('')}`);
  }
  return { text: out.join('\n'), started: true, migrated };
}

describe('no password ever leaks through the gateway plugin (property)', () => {
  let refusedPort: number;
  beforeAll(async () => {
    refusedPort = await freePort();
  }, 120_000);

  it('start-up logs, HTTP responses, SSE events, the status page data, job errors', async () => {
    let migrations = 0;
    await fc.assert(fc.asyncProperty(password, fc.boolean(), async (pw, encoded) => {
      const typed = typedPassword(pw, encoded);
      const [real, baseline] = await Promise.all([
        gatewayPaths(typed, refusedPort),
        gatewayPaths(typedPassword(placeholderFor(pw), encoded), refusedPort),
      ]);
      expectNoLeak(`gateway, password ${JSON.stringify(typed)}`, real.text, baseline.text, [typed, pw]);
      // Percent-encoded, the store URL is valid: the gateway must really have served and migrated.
      if (encoded) expect(real.started && real.migrated, real.text.slice(0, 3000)).toBe(true);
      if (real.migrated) migrations++;
    }), { numRuns: RUNS ?? 15, endOnFailure: true, examples: [['p@ss/w#rd?x;y%z: é中', true], ['p@ss/w#rd?x;y%z: é中', false]] });
    expect(migrations).toBeGreaterThan(0);
  }, 600_000);
});
