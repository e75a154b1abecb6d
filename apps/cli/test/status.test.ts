import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PGlite as PGlite17 } from 'pglite-pg17';
import postgres from 'postgres';
import { createTestDatabase, tempDir, tempStorePath } from '@mosaic/test-harness';
import { expectOneCleanLine, finished, runCli, startCli } from './run-cli.js';

async function initAndSeed(location: string, tier: string, scale: number): Promise<Record<string, number>> {
  const init = await runCli(['storage', 'init', '--url', location, '--tier', tier]);
  expect(init.status, init.stderr).toBe(0);
  const seeded = await runCli(['storage', 'seed', '--url', location, '--scale', String(scale), '--json']);
  expect(seeded.status, seeded.stderr).toBe(0);
  const report = JSON.parse(seeded.stdout) as { tables: Array<{ table: string; rows: number }> };
  return Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
}

function countsFromText(stdout: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of stdout.matchAll(/^ {2}([a-z_]+)\s+(\d+)/gm)) if (m[1] !== 'total') counts[m[1]!] = Number(m[2]);
  return counts;
}

describe('mosaic storage status', () => {
  it('a PGlite store prints local, with the right row counts', async () => {
    const dir = tempStorePath();
    const counts = await initAndSeed(dir, 'local', 2);
    const status = await runCli(['storage', 'status', '--url', dir]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^Tier {7}local$/m);
    expect(status.stdout).toMatch(/^Engine {5}PGlite \(PostgreSQL 18\./m);
    expect(countsFromText(status.stdout)).toEqual(counts);
  });

  it('PostgreSQL without pgvector prints standalone; with it, federated and the Valkey health', async () => {
    const standalone = await createTestDatabase();
    const counts = await initAndSeed(standalone, 'standalone', 2);
    const a = await runCli(['storage', 'status', '--url', standalone]);
    expect(a.stdout).toMatch(/^Tier {7}standalone$/m);
    expect(a.stdout).toMatch(/^pgvector {3}available, not installed$/m);
    expect(countsFromText(a.stdout)).toEqual(counts);

    const federated = await createTestDatabase();
    const fedCounts = await initAndSeed(federated, 'federated', 2);
    // Valkey 8 as tools/provision-services.sh starts it (the machine's Redis 7 on 6379 is not the federated cache).
    const valkeyUrl = process.env.MOSAIC_VALKEY_URL ?? 'redis://127.0.0.1:6380';
    const b = await runCli(['storage', 'status', '--url', federated, '--valkey-url', valkeyUrl]);
    expect(b.stdout).toMatch(/^Tier {7}federated$/m);
    expect(b.stdout).toMatch(/^pgvector {3}installed \(0\.\d+\.\d+\)$/m);
    expect(b.stdout).toMatch(/^Valkey {5}redis:\/\/\S+: PONG in \d+ ms, valkey 8\.\d+\.\d+$/m);
    expect(countsFromText(b.stdout)).toEqual(fedCounts);

    const json = await runCli(['storage', 'status', '--url', federated, '--json']);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toMatchObject({ tier: 'federated', engine: 'postgres', schema: { version: 1 }, rowCounts: fedCounts });
  });

  it('reads a PostgreSQL 17 store written by PGlite 0.4', async () => {
    const dir = tempStorePath('pg17');
    const old = await PGlite17.create(dir);
    await old.close();
    // A PG17 store initialised by this tool's schema, through the older engine.
    const init = await runCli(['storage', 'init', '--url', dir]);
    expect(init.status, init.stderr).toBe(0);
    const status = await runCli(['storage', 'status', '--url', dir]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^Engine {5}PGlite \(PostgreSQL 17\./m);
    expect(status.stdout).toMatch(/^Tier {7}local$/m);
  });
});

describe('mosaic storage status: bad input', () => {
  const secret = 'not-the-password';
  let silentTcp: Server;
  let silentUnix: Server;
  let tcpPort = 0;
  let socketDir = '';

  beforeAll(async () => {
    silentTcp = createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silentTcp.listen(0, '127.0.0.1', r));
    tcpPort = (silentTcp.address() as { port: number }).port;
    socketDir = tempDir('sock');
    silentUnix = createServer(() => {});
    await new Promise<void>((r) => silentUnix.listen(join(socketDir, '.s.PGSQL.5432'), r));
  });
  afterAll(() => {
    silentTcp?.close();
    silentUnix?.close();
  });

  const cases: Array<[string, () => Promise<string[]>, number, RegExp]> = [
    ['malformed URL', async () => ['--url', `postgresql://postgres:${secret}@127.0.0.1:port/x`], 2, /Malformed PostgreSQL URL/],
    ['unknown scheme', async () => ['--url', `mongodb://root:${secret}@127.0.0.1/x`], 2, /Unsupported location scheme "mongodb:\/\/"/],
    ['wrong password (28P01)', async () => {
      const url = inject('pgPasswordUrl');
      if (!url) throw new Error('This test needs a server that checks passwords: unset MOSAIC_TEST_DATABASE_URL and MOSAIC_TEST_PG15_URL so the harness starts its own PostgreSQL 15 cluster.');
      const u = new URL(url);
      u.password = secret;
      return ['--url', u.toString()];
    }, 1, /Authentication failed for postgresql:\/\/mosaic_password_user:\*\*\*@/],
    ['database does not exist (3D000)', async () => {
      const u = new URL(inject('pgAdminUrl'));
      u.pathname = '/no_such_database';
      u.password = secret;
      return ['--url', u.toString()];
    }, 1, /Database does not exist/],
    ['connection refused', async () => ['--url', `postgresql://postgres:${secret}@127.0.0.1:1/x`], 1, /Connection refused by 127\.0\.0\.1:1/],
    ['host name that does not resolve', async () => ['--url', `postgresql://postgres:${secret}@db.does-not-exist.invalid/x`], 1, /Host name db\.does-not-exist\.invalid does not resolve/],
    ['TCP server that never answers', async () => ['--url', `postgresql://postgres:${secret}@127.0.0.1:${tcpPort}/x`, '--connect-timeout', '2'], 1, /No answer from 127\.0\.0\.1:\d+ within the connect timeout/],
    ['local socket that stays silent', async () => ['--url', `postgresql://postgres:${secret}@localhost/x?host=${socketDir}`, '--connect-timeout', '2'], 1, /No answer from \/tmp\/mosaic-sock-\w+ within the connect timeout/],
    ['PGlite directory that does not exist', async () => ['--url', tempStorePath()], 2, /PGlite store .* does not exist/],
    ['directory that is not a PGlite store', async () => {
      const dir = tempDir('notastore');
      writeFileSync(join(dir, 'notes.txt'), 'hello');
      return ['--url', dir];
    }, 2, /is not a PGlite store \(no PG_VERSION file\)/],
    ['database without a Mosaic schema', async () => ['--url', await createTestDatabase()], 3, /has no Mosaic schema \(PostgreSQL [\d.]+, pgvector available\): run "mosaic storage init/],
    ['schema newer than the tool', async () => {
      const url = await createTestDatabase();
      await runCli(['storage', 'init', '--url', url]);
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql`update mosaic.schema_info set version = 99`;
      await sql.end();
      return ['--url', url];
    }, 3, /holds Mosaic schema v99, newer than this tool's v1: upgrade the mosaic tool/],
  ];

  it.each(cases)('%s', async (_name, args, status, message) => {
    const started = Date.now();
    const result = await runCli(['storage', 'status', ...(await args())]);
    expect(expectOneCleanLine(result.stderr, secret)).toMatch(message);
    expect(result.status).toBe(status);
    expect(result.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a connect timeout is honoured: about 2 s, not the default 10', async () => {
    const started = Date.now();
    const result = await runCli(['storage', 'status', '--url', `postgresql://postgres@127.0.0.1:${tcpPort}/x`, '--connect-timeout', '2']);
    expect(result.status).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('a PGlite directory this user cannot read', async () => {
    if (process.getuid?.() !== 0) throw new Error('This test drops privileges to "nobody" and must run as root (as CI does).');
    const base = tempDir('unreadable');
    chmodSync(base, 0o755);
    const dir = join(base, 'data');
    await runCli(['storage', 'init', '--url', dir]);
    chmodSync(dir, 0o700); // root's; nobody may not enter
    const result = await runCli(['storage', 'status', '--url', dir], { HOME: '/tmp' }, 60_000, { uid: 65534, gid: 65534 });
    expect(expectOneCleanLine(result.stderr)).toMatch(/is not readable and writable by this user: fix its permissions/);
    expect(result.status).toBe(1);
  });

  it('a PGlite store already open in another process: waits for it, and with --lock-timeout gives up with exit 3 naming it; the store intact after', async () => {
    const dir = tempStorePath();
    await runCli(['storage', 'init', '--url', dir]);
    // A seed holds the store open while it loads.
    const holder = startCli(['storage', 'seed', '--url', dir, '--scale', '150']); // about 8 s here: well past the 2 s wait
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the seed never started')), 30_000);
      holder.stderr!.on('data', () => {
        if (holder.output.stderr.includes('[storage seed] Seeding')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // The waiting lines go to stderr unless --json: with it, the refusal is the one line there.
    const second = await runCli(['storage', 'status', '--url', dir, '--lock-timeout', '2', '--json']);
    expect(expectOneCleanLine(second.stderr)).toMatch(new RegExp(`Gave up after 2 s waiting for the PGlite store lock on .*: held by pid ${holder.pid} \\(.*storage seed`));
    expect(second.status).toBe(3);
    const done = await finished(holder, ['seed']);
    expect(done.status, done.stderr).toBe(0);
    const after = await runCli(['storage', 'status', '--url', dir, '--json']);
    expect(after.status).toBe(0);
    expect(JSON.parse(after.stdout).totalRows).toBeGreaterThan(30_000);
  });
});

