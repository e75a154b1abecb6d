import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';

export const ROOT = new URL('../../..', import.meta.url).pathname;

export interface DevGateway {
  readonly child: ChildProcess;
  readonly output: string;
  readonly url: string;
  readonly token: string;
  readonly name: string;
}

/**
 * `node tools/gateway.mjs` on `store`, serving the current dist/ (MOSAIC_GATEWAY_SKIP_BUILD: the
 * test run builds nothing), in a process group of its own. Rejects with the output if it exits
 * before serving (a refused start).
 */
export function startDevGateway(name: string, store: string, env: Record<string, string> = {}): Promise<DevGateway> {
  const child = spawn(process.execPath, ['tools/gateway.mjs'], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOSAIC_GATEWAY_STORE: store, MOSAIC_GATEWAY_PORT: '0', MOSAIC_GATEWAY_SKIP_BUILD: '1', MOSAIC_GATEWAY_HEARTBEAT_MS: '1000', NO_COLOR: '1', ...env },
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${name}: no gateway after 60 s:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const url = /Mosaic dev gateway on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      const token = /admin token \(valid 1 day\): (\S+)/.exec(output)?.[1];
      if (url && token) {
        clearTimeout(timer);
        resolve({ child, get output() { return output; }, url, token, name });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`${name} exited ${code} before serving:\n${output}`), { exitCode: code, output }));
    });
  });
}

export async function stopGateway(g: { child: ChildProcess }, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (g.child.exitCode !== null || g.child.signalCode !== null) return;
  const exited = new Promise((r) => g.child.once('exit', r));
  try {
    process.kill(-g.child.pid!, signal);
  } catch {
    return;
  }
  const killed = setTimeout(() => { try { process.kill(-g.child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
  await exited;
  clearTimeout(killed);
}

/**
 * GET an admin route. Admin tokens are not migrated (admin_tokens is a skipped table), so after a
 * live cutover a gateway's token is unknown to its new store: `onUnauthorized` issues it there
 * (what an operator does after the cutover), then the request is repeated once.
 */
export async function adminGet<T>(g: DevGateway, path: string, onUnauthorized?: (token: string) => Promise<void>): Promise<T> {
  const get = () => fetch(`${g.url}/admin/storage${path}`, { headers: { authorization: `Bearer ${g.token}` } });
  let res = await get();
  if (res.status === 401 && onUnauthorized) {
    await onUnauthorized(g.token);
    res = await get();
  }
  if (res.status !== 200) throw new Error(`${g.name} GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export const adminPost = (g: DevGateway, path: string, body: unknown) =>
  fetch(`${g.url}/admin/storage${path}`, { method: 'POST', headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

export interface WriteResult {
  readonly id: string;
  readonly gateway: string;
  /** HTTP status, or 0 when the request itself failed (connection refused: a killed gateway). */
  readonly status: number;
  readonly retryAfter: string | null;
  readonly code: string | null;
  readonly sentAt: number;
  readonly answeredAt: number;
}

/**
 * A bounded write load: `perSecond` POST /api/notes to each gateway, each with a fresh id, every
 * answer recorded. At most `maxInFlight` requests per gateway at once (a slow gateway is not
 * buried). stop() waits for the requests still out.
 */
export function writeLoad(gateways: () => readonly DevGateway[], perSecond = 20, maxInFlight = 20) {
  const results: WriteResult[] = [];
  const out = new Set<Promise<void>>();
  const inFlight = new Map<string, number>();
  const send = (g: DevGateway) => {
    if ((inFlight.get(g.name) ?? 0) >= maxInFlight) return;
    if (g.child.exitCode !== null || g.child.signalCode !== null) return;
    inFlight.set(g.name, (inFlight.get(g.name) ?? 0) + 1);
    const id = randomUUID();
    const sentAt = Date.now();
    const p = fetch(`${g.url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, note: `load via ${g.name}` }), signal: AbortSignal.timeout(30_000) })
      .then(async (res) => {
        const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
        results.push({ id, gateway: g.name, status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code ?? body.error ?? null, sentAt, answeredAt: Date.now() });
      })
      .catch(() => { results.push({ id, gateway: g.name, status: 0, retryAfter: null, code: null, sentAt, answeredAt: Date.now() }); })
      .finally(() => {
        inFlight.set(g.name, (inFlight.get(g.name) ?? 1) - 1);
        out.delete(p);
      });
    out.add(p);
  };
  const timer = setInterval(() => { for (const g of gateways()) send(g); }, 1000 / perSecond);
  return {
    results,
    async stop(): Promise<WriteResult[]> {
      clearInterval(timer);
      await Promise.all([...out]);
      return results;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, ok: () => Promise<boolean> | boolean, limitMs = 60_000, everyMs = 50): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
