import { createHash } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, startTcpProxy, testServers } from '@mosaic/test-harness';
import { openDatabase, redactUrl } from '../src/index.js';
import type { Database } from '../src/index.js';
import { mapPostgresError } from '../src/postgres-js/errors.js';
import { WireCopyOut } from '../src/wire/copy-out.js';
import type { WireError } from '../src/wire/copy-out.js';

/**
 * The wire reader (src/wire/copy-out.ts) takes every PostgreSQL COPY TO that Database.copyTo runs
 * on a plain socket; MOSAIC_COPY_READER=postgres.js sends it through postgres.js instead. Both
 * must yield the same bytes, inside a snapshot too, and fail the same way.
 */
const viaPostgresJs = async <T>(fn: () => Promise<T>): Promise<T> => {
  process.env['MOSAIC_COPY_READER'] = 'postgres.js';
  try {
    return await fn();
  } finally {
    delete process.env['MOSAIC_COPY_READER'];
  }
};

async function digest(db: Database, sql: string, snapshot?: string): Promise<{ sha: string; bytes: number; pieces: number[] }> {
  const hash = createHash('sha256');
  const pieces: number[] = [];
  for await (const part of db.copyTo(sql, snapshot === undefined ? {} : { snapshot })) {
    hash.update(part);
    pieces.push(part.length);
  }
  return { sha: hash.digest('hex'), bytes: pieces.reduce((a, b) => a + b, 0), pieces };
}

const opened = new Set<Database>();
const open = async (url: string, applicationName = 'wire test') => {
  const db = await openDatabase(url, { applicationName });
  opened.add(db);
  return db;
};
afterEach(async () => {
  await Promise.all([...opened].map((db) => db.close()));
  opened.clear();
});

describe.each(testServers().map((server) => ({ name: `PostgreSQL ${server.major}`, server })))('wire COPY reader, $name', ({ server }) => {
  it('yields the bytes postgres.js yields, binary and text, rows bigger than a piece and a socket chunk included', async () => {
    const db = await open(await createTestDatabase('mosaic_test', server));
    await db.exec(`create table w (id int8 primary key, t text, b bytea, ts timestamptz, n numeric, j jsonb, a text[]);
      insert into w select g, repeat(chr(233) || E'\\t\\\\ 🚀', g % 50), decode(md5(g::text), 'hex'), '2024-02-29 12:34:56.789012+00'::timestamptz + g * interval '1 microsecond',
        (g * 1.000001)::numeric(20, 8), jsonb_build_object('v', 2406.60 + g), array['x', null, g::text] from generate_series(1, 20000) g;
      insert into w values (0, repeat('big row ', 200000), null, null, null, null, null)`);
    for (const sql of ['copy (select * from w order by id) to stdout (format binary)', 'copy (select * from w order by id) to stdout']) {
      const wire = await digest(db, sql);
      const js = await viaPostgresJs(() => digest(db, sql));
      expect(wire.sha).toBe(js.sha);
      expect(wire.bytes).toBe(js.bytes);
      expect(wire.bytes).toBeGreaterThan(1_600_000);
      // Pieces of about 256 KB (the 1.6 MB row alone is one piece of its own).
      expect(wire.pieces.filter((n) => n > 300 * 1024)).toHaveLength(1);
      expect(wire.pieces.slice(0, -1).every((n) => n > 100 * 1024)).toBe(true);
    }
  });

  it('reads inside an exported snapshot: a row committed after the export is not in it', async () => {
    const url = await createTestDatabase('mosaic_test', server);
    const db = await open(url);
    await db.exec('create table s (id int primary key); insert into s select generate_series(1, 1000)');
    const holder = await db.session();
    try {
      await holder.exec('begin isolation level repeatable read read only');
      const [row] = await holder.query<{ id: string }>('select pg_export_snapshot() as id');
      await db.exec('insert into s values (1001)');
      const sql = 'copy (select count(*), max(id) from s) to stdout';
      const text = async () => {
        const parts: Buffer[] = [];
        for await (const part of db.copyTo(sql, { snapshot: row!.id })) parts.push(Buffer.from(part));
        return Buffer.concat(parts).toString();
      };
      expect(await text()).toBe('1000\t1000\n');
      expect(await viaPostgresJs(text)).toBe('1000\t1000\n');
      const now = await digest(db, sql);
      expect(now.bytes).toBe('1001\t1001\n'.length);
    } finally {
      await holder.release();
    }
  });

  it('fails as postgres.js fails: a server error is QUERY_FAILED with its SQLSTATE, a bad snapshot too', async () => {
    const db = await open(await createTestDatabase('mosaic_test', server));
    await expect(digest(db, 'copy (select * from no_such_table) to stdout')).rejects.toMatchObject({ code: 'QUERY_FAILED', sqlState: '42P01' });
    // An unknown snapshot: 22023 or 42704 depending on the server's version.
    await expect(digest(db, 'copy (select 1) to stdout', '00000003-0000001B-1')).rejects.toMatchObject({ code: 'QUERY_FAILED', sqlState: expect.stringMatching(/^(22023|42704)$/) });
  });

  it('a server process ended mid-COPY: CONNECTION_LOST; stopping early ends the connection at once, even while it waits', async () => {
    const url = await createTestDatabase('mosaic_test', server);
    const db = await open(url, 'wire test pids');
    const sql = 'copy (select g, repeat(md5(g::text), 20) from generate_series(1, 2000000) g) to stdout (format binary)';
    const iterator = db.copyTo(sql)[Symbol.asyncIterator]();
    await iterator.next();
    // The reader's server process is among the Database's (lock waits are reported by them).
    const [reader] = await db.query<{ pid: number }>("select pid from pg_stat_activity where application_name = 'wire test pids' and pid <> pg_backend_pid() and query like '%2000000%'");
    expect(db.backendPids()).toContain(reader!.pid);
    await db.query(`select pg_terminate_backend(${reader!.pid})`);
    await expect((async () => {
      for (;;) if ((await iterator.next()).done) return 'ended without an error';
    })()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(db.backendPids()).not.toContain(reader!.pid);

    // A link that stops forwarding: next() waits; return() must not (the caller's stall guard relies on it).
    const u = new URL(url);
    const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    try {
      const viaProxy = await open(proxy.url(url), 'wire test stall');
      const stalled = viaProxy.copyTo(sql)[Symbol.asyncIterator]();
      await stalled.next();
      proxy.pause();
      const waiting = stalled.next().then(() => 'settled', () => 'settled');
      const returned = await Promise.race([stalled.return!().then(() => 'returned'), new Promise((r) => setTimeout(() => r('return() waited'), 2000))]);
      expect(returned).toBe('returned');
      expect(await waiting).toBe('settled');
      proxy.resume();
    } finally {
      await proxy.close();
    }
  });
});

describe('wire COPY reader: passwords', () => {
  it('authenticates by SCRAM-SHA-256 where the server checks passwords; a wrong password fails 28P01 (AUTH_FAILED) without quoting it', async () => {
    const url = inject('pgPasswordUrl');
    if (!url) throw new Error('This test needs a server that checks passwords: unset MOSAIC_TEST_DATABASE_URL and MOSAIC_TEST_PG15_URL so the harness starts its own PostgreSQL 15 cluster.');
    const db = await open(url);
    const [method] = await db.query<{ m: string }>("select current_setting('password_encryption') as m");
    expect(method!.m).toBe('scram-sha-256');
    const parts: Buffer[] = [];
    for await (const part of db.copyTo("copy (select 'through scram', current_user) to stdout")) parts.push(Buffer.from(part));
    expect(Buffer.concat(parts).toString()).toBe('through scram\tmosaic_password_user\n');

    // openDatabase() would refuse a wrong password before any COPY: drive the reader itself.
    const u = new URL(url);
    const wrong = 'not-the-password-42';
    const reader = new WireCopyOut({ host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: wrong, database: u.pathname.slice(1), parameters: {}, connectTimeoutMs: 5000 }, 'copy (select 1) to stdout');
    const error = (await reader.next().catch((e: unknown) => e)) as WireError;
    expect(error).toMatchObject({ code: '28P01', established: false });
    expect(mapPostgresError(error, redactUrl(url))).toMatchObject({ code: 'AUTH_FAILED' });
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(wrong);
  });
});
