import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { createTestDatabase, tempStorePath, testServers } from '@mosaic/test-harness';
import { inTransaction, openDatabase } from '../src/index.js';
import type { Database } from '../src/index.js';

// One suite, every engine: each selected PostgreSQL server (MOSAIC_TEST_SERVERS), then PGlite.
const engines = [
  ...testServers().map((server) => ({ name: `PostgreSQL ${server.major}`, open: async () => openDatabase(await createTestDatabase('mosaic_test', server), { applicationName: 'mosaic test' }) })),
  { name: 'PGlite', open: () => openDatabase(tempStorePath(), { applicationName: 'mosaic test', create: true }) },
];

describe.each(engines)('$name adapter', ({ open }) => {
  const withDb = async (fn: (db: Database) => Promise<void>) => {
    const db = await open();
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  };

  it('sets UTC, no timeouts, plain string literals, and the application name on every session', () =>
    withDb(async (db) => {
      const settings = `select current_setting('TimeZone') as tz, current_setting('statement_timeout') as st, current_setting('lock_timeout') as lt,
        current_setting('idle_in_transaction_session_timeout') as it, current_setting('idle_session_timeout') as ist, current_setting('standard_conforming_strings') as scs`;
      const expected = { tz: 'UTC', st: '0', lt: '0', it: '0', ist: '0', scs: 'on' };
      expect(await db.query(settings)).toEqual([expected]);
      const session = await db.session();
      try {
        expect(await session.query(settings)).toEqual([expected]);
        if (db.engine === 'postgres') expect(await session.query("select current_setting('application_name') as app")).toEqual([{ app: 'mosaic test' }]);
      } finally {
        await session.release();
      }
    }));

  it('says what it can do (capabilities), and does it', () =>
    withDb(async (db) => {
      const caps = db.capabilities;
      // The adapter's own test may name engines: callers ask for capabilities instead.
      expect(caps).toEqual(db.engine === 'pglite'
        ? { exclusive: true, sharedSession: true, snapshotExport: false, otherClients: false, serverExtensions: false, streamingCopyIn: false }
        : { exclusive: false, sharedSession: false, snapshotExport: true, otherClients: true, serverExtensions: true, streamingCopyIn: true });
      const a = await db.session();
      const second = db.session();
      const first = await Promise.race([second, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 300))]);
      if (caps.sharedSession) {
        // A shared session is taken in turns: a second session() waits for the first to be released.
        expect(first).toBe('waiting');
        await a.release();
        await (await second).release();
        return;
      }
      const b = await second;
      try {
        expect(a.backendPid).not.toBe(b.backendPid);
        if (caps.snapshotExport) {
          await a.exec('begin isolation level repeatable read read only');
          const [row] = await a.query<{ id: string }>('select pg_export_snapshot() as id');
          await b.exec('begin isolation level repeatable read read only');
          await b.exec(`set transaction snapshot '${row!.id}'`);
          await a.exec('commit');
          await b.exec('commit');
        }
      } finally {
        await a.release();
        await b.release();
      }
    }));

  it('returns exact text for int8, numeric, timestamptz and jsonb', () =>
    withDb(async (db) => {
      const [row] = await db.query("select 9007199254740993::int8 as b, 1.50::numeric as n, '2024-01-01 00:00:00.000001+00'::timestamptz as t, '{\"a\": 2406.60}'::jsonb as j");
      expect(row).toEqual({ b: '9007199254740993', n: '1.50', t: '2024-01-01 00:00:00.000001+00', j: '{"a": 2406.60}' });
    }));

  it('streams COPY in and out byte-exact', () =>
    withDb(async (db) => {
      await db.exec('create table t (id int primary key, v text)');
      const input = '1\ttab\\there\n2\t\\\\N literal\n3\t\\N\n4\temoji 🚀\n';
      await db.copyFrom('COPY t FROM STDIN', [input.slice(0, 10), input.slice(10)]);
      const chunks: Buffer[] = [];
      for await (const chunk of db.copyTo('COPY (select * from t order by id) TO STDOUT')) chunks.push(Buffer.from(chunk));
      expect(Buffer.concat(chunks).toString('utf8')).toBe(input);
    }));

  it('rolls a failed transaction back', () =>
    withDb(async (db) => {
      await db.exec('create table r (v int)');
      await expect(db.transaction(async (tx) => {
        await tx.exec('insert into r values (1)');
        await tx.exec('insert into r values (\'not a number\')');
      })).rejects.toMatchObject({ code: 'QUERY_FAILED', sqlState: '22P02' });
      expect(await db.query('select count(*)::int as n from r')).toEqual([{ n: 0 }]);
    }));

  // postgres.js reports a server error during COPY FROM to nobody (#1173): the COPY hung for good.
  it.each([
    ['a duplicate key', '1\n2\n5\n6\n', '23505'],
    ['a value of the wrong type', '7\nseven\n', '22P02'],
    ['a duplicate key in a long stream', Array.from({ length: 200_000 }, (_, i) => `${i + 10}\n`).join('') + '5\n', '23505'],
  ])('a COPY FROM the server refuses (%s) fails with its error, and the session goes on', (_what, input, sqlState) =>
    withDb(async (db) => {
      await db.exec('create table k (id int primary key); insert into k values (5)');
      const session = await db.session();
      try {
        const failed = await Promise.race([
          inTransaction(session, (tx) => tx.copyFrom('COPY k FROM STDIN', [input])).then(() => 'no error', (e: unknown) => e),
          new Promise((resolve) => setTimeout(() => resolve('still waiting after 20 s'), 20_000)),
        ]);
        expect(failed).toMatchObject({ code: 'QUERY_FAILED', sqlState });
        expect(await session.query('select count(*)::int as n from k')).toEqual([{ n: 1 }]);
      } finally {
        await session.release();
      }
    }));
});

describe('PostgreSQL session settings', () => {
  it('are SET again after the connection is lost and re-established', async () => {
    const url = await createTestDatabase();
    const db = await openDatabase(url);
    const killer = await openDatabase(url);
    try {
      // A database default that the tool must override on every connection it makes.
      await db.exec(`alter database "${new URL(url).pathname.slice(1)}" set statement_timeout = '17s'`);
      const [{ pid }] = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')) as [{ pid: number }];
      await killer.query('select pg_terminate_backend($1)', [pid]);
      await db.query('select 1').catch(() => {}); // the dead connection fails once
      const [row] = await db.query<{ st: string; bo: string; pid: number }>("select current_setting('statement_timeout') as st, current_setting('bytea_output') as bo, pg_backend_pid() as pid");
      expect(row!.pid).not.toBe(pid);
      expect(row).toMatchObject({ st: '0', bo: 'hex' });
    } finally {
      await Promise.all([db.close(), killer.close()]);
    }
  });
});

describe('PostgreSQL sessions', () => {
  it('a session whose connection is lost fails every later statement at once and never reconnects', async () => {
    const url = await createTestDatabase();
    const db = await openDatabase(url);
    try {
      await db.exec('create table t (x int)');
      const session = await db.session();
      await session.exec('begin');
      await session.exec('insert into t values (1)');
      const [{ pid }] = (await session.query<{ pid: number }>('select pg_backend_pid() as pid')) as [{ pid: number }];
      await db.query('select pg_terminate_backend($1)', [pid]);
      await expect(session.query('select 1')).rejects.toMatchObject({ code: expect.stringMatching(/CONNECTION_LOST|QUERY_FAILED/) });
      // A COMMIT on a new connection would "succeed" with nothing to commit: it must fail instead.
      const started = performance.now();
      await expect(session.exec('commit')).rejects.toMatchObject({ code: 'CONNECTION_LOST', message: expect.stringMatching(/was lost mid-session/) });
      expect(performance.now() - started).toBeLessThan(1000);
      await session.release();
      expect(await db.query('select count(*)::int as n from t')).toEqual([{ n: 0 }]);
    } finally {
      await db.close();
    }
  });

  it('a statement on a session whose database is dropped under it fails instead of hanging', async () => {
    const url = await createTestDatabase();
    const db = await openDatabase(url);
    const admin = await openDatabase(inject('pgAdminUrl'));
    try {
      const session = await db.session();
      await session.exec('begin');
      await admin.exec(`drop database "${new URL(url).pathname.slice(1)}" with (force)`);
      await expect(session.exec('rollback')).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
      await session.release();
    } finally {
      await Promise.all([db.close().catch(() => {}), admin.close()]);
    }
  });
});

describe.each(testServers())('PostgreSQL $major: settings a database imposes', (server) => {
  it('a database default of idle_session_timeout or standard_conforming_strings = off does not reach a session', async () => {
    const url = await createTestDatabase('mosaic_test', server);
    const setup = await openDatabase(url);
    const [row] = await setup.query<{ d: string }>('select current_database() as d');
    await setup.exec(`alter database "${row!.d}" set idle_session_timeout = '2s'; alter database "${row!.d}" set standard_conforming_strings = off`);
    await setup.close();
    const db = await openDatabase(url);
    try {
      const settings = "select current_setting('idle_session_timeout') as ist, current_setting('standard_conforming_strings') as scs, 'a\\b' as lit";
      expect(await db.query(settings)).toEqual([{ ist: '0', scs: 'on', lit: 'a\\b' }]);
      const session = await db.session();
      try {
        expect(await session.query(settings)).toEqual([{ ist: '0', scs: 'on', lit: 'a\\b' }]);
      } finally {
        await session.release();
      }
    } finally {
      await db.close();
    }
  });
});

describe('PostgreSQL sockets', () => {
  it('have Nagle off: the statement after a COPY FROM answers as fast as any (it waited for a delayed ACK, 40 ms)', async () => {
    const db = await openDatabase(await createTestDatabase());
    const session = await db.session();
    try {
      await session.exec('create table n (a int, b text)');
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const afterCopy: number[] = [];
      const plain: number[] = [];
      for (let i = 0; i < 9; i++) {
        await session.exec('begin');
        await session.copyFrom('copy n from stdin', ['1\thello\n'.repeat(500)]);
        let t = performance.now();
        await session.exec('commit');
        afterCopy.push(performance.now() - t);
        // The same COMMIT (one WAL flush) after a plain INSERT: a slow disk slows both alike.
        await session.exec('begin');
        await session.exec("insert into n values (1, 'hello')");
        t = performance.now();
        await session.exec('commit');
        plain.push(performance.now() - t);
      }
      // With Nagle on, every COMMIT after a COPY took 42-45 ms here, whatever the load.
      expect(median(afterCopy), `after COPY ${afterCopy.map((x) => x.toFixed(1)).join(' ')} ms; plain ${plain.map((x) => x.toFixed(1)).join(' ')} ms`).toBeLessThan(median(plain) + 20);
    } finally {
      await session.release();
      await db.close();
    }
  });

  it('a host that never answers: CONNECT_TIMEOUT after the connect timeout, not the system\'s minutes', async () => {
    // A listener whose process is stopped: once its accept queue is full the kernel drops every
    // further SYN, as a firewall that drops them does (no route, no refusal, no answer).
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen({ host: '127.0.0.1', port: 0, backlog: 1 }, function () { process.stdout.write(String(this.address().port)) })"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const fillers: Socket[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString())));
        child.once('exit', () => reject(new Error('the listener exited')));
      });
      child.kill('SIGSTOP');
      for (let i = 0; i < 6; i++) fillers.push(createConnection({ host: '127.0.0.1', port }).on('error', () => {}));
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const error = await openDatabase(`postgresql://postgres@127.0.0.1:${port}/x`, { connectTimeoutSeconds: 1 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONNECT_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    }
  });
});

describe('PostgreSQL connection errors', () => {
  it('maps a missing database to DATABASE_NOT_FOUND', async () => {
    const url = new URL(await createTestDatabase());
    url.pathname = '/no_such_database_here';
    await expect(openDatabase(url.toString())).rejects.toMatchObject({ code: 'DATABASE_NOT_FOUND' });
  });

  it('maps a refused connection without quoting the password', async () => {
    const error = (await openDatabase('postgresql://postgres:hunter2@127.0.0.1:1/x').catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('CONNECTION_REFUSED');
    expect(error.message).not.toContain('hunter2');
  });
});

describe('PostgreSQL sessions know their server process without asking', () => {
  it('backendPids() lists the Database\'s open connections; a session\'s closed signal fires when the server ends it', async () => {
    const url = await createTestDatabase();
    const db: Database = await openDatabase(url, { applicationName: 'pids test' });
    try {
      const s = await db.session();
      const [own] = await s.query<{ pid: number }>('select pg_backend_pid() as pid');
      expect(s.backendPid).toBe(own!.pid);
      const listed = await db.query<{ pid: number }>("select pid from pg_stat_activity where application_name = 'pids test' order by pid");
      expect([...db.backendPids()].sort((a, b) => a - b)).toEqual(listed.map((r) => r.pid));
      await db.query(`select pg_terminate_backend(${s.backendPid})`);
      const until = Date.now() + 3000;
      while (!s.closed.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(s.closed.aborted).toBe(true);
      expect(s.closed.reason).toMatchObject({ code: 'CONNECTION_LOST' });
      await s.release();
      expect(db.backendPids()).toHaveLength(1);
    } finally {
      await db.close();
    }
  });
});

describe('PostgreSQL LISTEN on a connection of its own', () => {
  it('hears NOTIFY payloads, re-listens after the server ends its connection (onListening again), and close() ends it', async () => {
    const url = await createTestDatabase();
    const db: Database = await openDatabase(url, { applicationName: 'listen test' });
    const heard: string[] = [];
    let listening = 0;
    const until = async (ok: () => boolean) => {
      const end = Date.now() + 5000;
      while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(ok()).toBe(true);
    };
    try {
      const listener = await db.listen('mosaic_test_channel', { onNotify: (p) => heard.push(p), onListening: () => { listening += 1; } });
      await until(() => listening === 1);
      await db.query("select pg_notify('mosaic_test_channel', 'one')");
      await until(() => heard.length === 1);
      expect(heard).toEqual(['one']);
      // The server ends the listening connection: it comes back and says so.
      await db.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'listen test' and query ilike 'listen%'");
      await until(() => listening === 2);
      await db.query("select pg_notify('mosaic_test_channel', 'two')");
      await until(() => heard.length === 2);
      await listener.close();
      await db.query("select pg_notify('mosaic_test_channel', 'three')");
      await new Promise((r) => setTimeout(r, 200));
      expect(heard).toEqual(['one', 'two']);
      const [row] = await db.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name = 'listen test' and query ilike 'listen%'");
      expect(row!.n).toBe(0);
    } finally {
      await db.close();
    }
  });
});
