import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTcpProxy, tempStorePath } from '@mosaic/test-harness';
import type { TcpProxy } from '@mosaic/test-harness';
import { expectMigrated, initSeed, query } from './migrate-helpers.js';
import { runCli } from './run-cli.js';

// A target on another host: PostgreSQL 17 behind a loopback proxy that adds a 10 ms round trip and
// caps each direction at 200 Mbit/s (the kernel here has no netem). The proxy counts how often the
// traffic turns from client->server to server->client: the round trips the link charges for.
describe('a federated target on another host (10 ms round trip, 200 Mbit/s)', () => {
  let source: string;
  let proxy: TcpProxy;
  const servers: string[] = [];

  beforeAll(async () => {
    source = tempStorePath();
    await initSeed(source, 'local', 3);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  async function migrateThroughLink(batchSize: number) {
    const direct = await createTestDatabase('mosaic_test', 'federated');
    servers.push(direct);
    await query(direct, 'create extension vector');
    const u = new URL(direct);
    proxy ??= await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) }, { roundTripMs: 10, mbitPerSecond: 200 });
    const before = proxy.stats.turns;
    const started = performance.now();
    const run = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', proxy.url(direct), '--yes', '--no-verify', '--jobs', '1', '--batch-size', String(batchSize)], {}, 300_000);
    expect(run.status, run.stderr).toBe(0);
    const [journal] = await query<{ chunks: number }>(direct, 'select sum(chunks)::int as chunks from mosaic.migration_tables');
    return { direct, turns: proxy.stats.turns - before, chunks: journal!.chunks, seconds: (performance.now() - started) / 1000 };
  }

  it('migrates exactly, and a chunk costs 4 round trips on the link (6 before they were merged)', async () => {
    const coarse = await migrateThroughLink(2000);
    const fine = await migrateThroughLink(50);
    await expectMigrated(source, coarse.direct, false);
    await expectMigrated(source, fine.direct, false);
    expect(fine.chunks).toBeGreaterThan(coarse.chunks + 30);
    // The same run with more, smaller chunks: the extra round trips are the chunks' own (BEGIN,
    // the COPY's start and end, COMMIT with the journal entry and the lock fence), less the
    // run's polls over the longer run, which count time, not chunks (the lock-wait watcher once a
    // second, the run lock's check every 5 s: 1.2 a second). Merging BEGIN, the journal and COMMIT
    // into the data's messages took it from 6 to 4.
    const polls = 1.2 * Math.max(0, fine.seconds - coarse.seconds);
    const perChunk = (fine.turns - coarse.turns - polls) / (fine.chunks - coarse.chunks);
    expect(perChunk, `${fine.turns} - ${coarse.turns} turns - ${polls.toFixed(0)} polls over ${fine.chunks} - ${coarse.chunks} chunks`).toBeLessThanOrEqual(4.3);

    const verify = await runCli(['storage', 'verify', '--source', source, '--target-url', proxy.url(fine.direct)], {}, 300_000);
    expect(verify.status, verify.stderr).toBe(0);
  }, 600_000);
});
