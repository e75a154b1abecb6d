import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { createTestDatabase, startTcpProxy } from '@mosaic/test-harness';
import type { TcpProxy } from '@mosaic/test-harness';
import { freezeStore } from '@mosaic/write-freeze';
import { startGateway, storeWithTokens } from './gateway.js';
import type { Gateway } from './gateway.js';
import type { StoreHandle } from '../src/store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fail closed (issue #16): a gateway that cannot reach its PostgreSQL store refuses writes. The
 * store is reached through a TCP proxy the test pauses: the server then neither answers nor
 * fails, the worst case (no error to react to).
 */
describe('a gateway that loses contact with its store', () => {
  let store: string;
  let proxy: TcpProxy;
  let gw: Gateway;
  let db: Database;
  const note = () => fetch(`${gw.url}/api/notes`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
  // The handle itself: the admin routes authenticate against the store, which is cut off here.
  const state = async () => gw.app.mosaicStore as unknown as StoreHandle;

  beforeAll(async () => {
    store = await createTestDatabase('mosaic_test', 'standalone');
    await storeWithTokens(store, 'standalone', 1);
    const u = new URL(store);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    gw = await startGateway(proxy.url(store), 'standalone', undefined, { heartbeatMs: 300, contactTimeoutMs: 1500 });
    db = await openDatabase(store);
  }, 120_000);
  afterAll(async () => {
    proxy?.resume();
    await gw?.close();
    await db?.close();
    await proxy?.close();
  });

  it('during a freeze: stays frozen while cut off even though the freeze was lifted meanwhile; thaws once it can tell', async () => {
    expect((await note()).status).toBe(201);
    const freeze = await freezeStore(db, { runId: 'contact-test', ackTimeoutMs: 10_000 });
    expect(freeze.acknowledged.map((g) => g.pid)).toEqual([process.pid]);
    const refused = await note();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('7');
    proxy.pause();
    await freeze.lift(); // the gateway cannot hear it: neither the NOTIFY nor its heartbeat get through
    await sleep(2500);
    expect((await state()).frozenBy).toEqual(expect.arrayContaining(['store', 'contact']));
    expect((await note()).status).toBe(503);
    proxy.resume();
    const end = Date.now() + 10_000;
    let status = 0;
    while (status !== 201 && Date.now() < end) {
      await sleep(100);
      status = (await note()).status;
    }
    expect(status).toBe(201);
  }, 60_000);

  it('while open: a store that stops answering makes it refuse writes within contactTimeoutMs; answering again thaws it', async () => {
    expect((await note()).status).toBe(201);
    proxy.pause();
    await sleep(2500); // > contactTimeoutMs (1.5 s): no write is sent meanwhile (it would wait on the paused link)
    expect((await state()).frozenBy).toContain('contact');
    const refused = await note();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('7');
    proxy.resume();
    const end = Date.now() + 10_000;
    while ((await state()).frozen && Date.now() < end) await sleep(100);
    expect((await state()).frozen).toBe(false);
    expect((await note()).status).toBe(201);
  }, 60_000);
});
