import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '@mosaic/connection';
import { execute, prepare, run } from '@mosaic/copy-engine';
import type { CopyEvent } from '@mosaic/copy-engine';
import { acquireAdvisoryLock } from '@mosaic/advisory-lock';
import type { HeldLock } from '@mosaic/advisory-lock';
import { createTestDatabase } from '@mosaic/test-harness';
import { COPIED, initSeed, query } from './migrate-helpers.js';
import { runCli, startCli } from './run-cli.js';

// "Nothing waits in silence" (issue #13): a statement of the run that waits on a lock is
// reported with who blocks it and bounded by --lock-timeout; a run whose lock session dies
// stops before anything more is written; stalls, mismatches and failed index builds end the
// run with their own code. Real PostgreSQL throughout, no mocks.

const migrate = (source: string, target: string, ...extra: string[]) =>
  ['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', ...extra];

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A session of someone else's: opens a transaction, takes `lock`, and sits idle in it. */
async function blocker(url: string, lock: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'blocking test session' } });
  const reserved = await sql.reserve();
  const [row] = await reserved.unsafe('select pg_backend_pid() as pid');
  await reserved.unsafe(`begin; ${lock}`).simple();
  return {
    pid: row!.pid as number,
    async end() {
      await reserved.unsafe('rollback').simple().catch(() => {});
      reserved.release();
      await sql.end({ timeout: 1 });
    },
  };
}

/** Statements of `app` that wait on a lock now, in the database of `url`. */
async function waitingOnLock(url: string, app: string): Promise<number> {
  const [row] = await query<{ n: number }>(url, `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = '${app}' and wait_event_type = 'Lock'`);
  return row!.n;
}

const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1)!.replace(/^mosaic: /, '');

let source: string;

beforeAll(async () => {
  source = await createTestDatabase();
  await initSeed(source, 'standalone', 3);
}, 120_000);

describe('a statement of the run that waits on a lock (CLI)', () => {
  it('is reported every few seconds with who blocks it, and the run goes on once the blocker ends', async () => {
    const target = await createTestDatabase();
    const holder = await blocker(target, 'create table messages (id int); lock table messages in share mode');
    // The blocker created messages in its own transaction: the run's schema apply waits on it.
    const child = startCli(migrate(source, target));
    try {
      await waitFor('two wait reports', () => ((child.output.stderr.match(/Waiting for a lock on the target/g) ?? []).length >= 2 ? true : undefined), 20_000);
    } finally {
      await holder.end();
    }
    const status = await child.closed;
    expect(status, child.output.stderr).toBe(0);
    const reports = child.output.stderr.split('\n').filter((l) => l.includes('Waiting for a lock'));
    expect(reports[0]).toMatch(new RegExp(`^\\[migrate-tier\\] Waiting for a lock on the target: blocked by pid ${holder.pid} \\(blocking test session, idle in transaction since \\d{4}-\\d\\d-\\d\\d [0-9:.]+\\+00\\); waited [345] s$`));
    expect(reports[1]).toMatch(/; waited [678] s$/);
  });

  it('--lock-timeout bounds it: exit 3, LOCK_TIMEOUT naming the blocker in one line; a re-run then completes', async () => {
    const target = await createTestDatabase();
    expect((await runCli(['storage', 'init', '--url', target, '--tier', 'federated'])).status).toBe(0);
    // An application's row lock on the journal... rather: an idle transaction holding a table the load needs.
    const holder = await blocker(target, 'lock table agent_logs in share mode');
    let result;
    try {
      const started = Date.now();
      result = await runCli(migrate(source, target, '--lock-timeout', '5'));
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await holder.end();
    }
    expect(result.status, result.stderr).toBe(3);
    expect(result.stderr).toMatch(new RegExp(`Waiting for a lock on the target: blocked by pid ${holder.pid} \\(blocking test session, idle in transaction since [^)]+\\); waited [34] s of 5`));
    expect(lastLine(result.stderr)).toMatch(new RegExp(`^Gave up after [56] s waiting for a lock on the target \\(--lock-timeout 5\\): blocked by pid ${holder.pid} \\(blocking test session, idle in transaction since [^)]+\\)\\. .*pg_terminate_backend\\(${holder.pid}\\)`));
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const rerun = await runCli(migrate(source, target));
    expect(rerun.status, rerun.stderr).toBe(0);
  });

  it('a watcher whose session is terminated opens another: reports go on and --lock-timeout still ends the wait', async () => {
    const target = await createTestDatabase();
    expect((await runCli(['storage', 'init', '--url', target, '--tier', 'federated'])).status).toBe(0);
    const holder = await blocker(target, 'lock table agent_logs in share mode');
    const child = startCli(migrate(source, target, '--lock-timeout', '9'));
    let status: number | null;
    try {
      await waitFor('a first wait report', () => (child.output.stderr.includes('Waiting for a lock on the target') ? true : undefined), 30_000);
      // The watcher's own session: the one that asks who blocks whom.
      const [watcher] = await query<{ pid: number }>(target, `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
        and application_name like 'mosaic%' and query like '%pg_blocking_pids%'`);
      expect(watcher, 'the watcher session').toBeDefined();
      await query(target, `select pg_terminate_backend(${watcher!.pid})`);
      const before = (child.output.stderr.match(/Waiting for a lock on the target/g) ?? []).length;
      status = await child.closed;
      const after = (child.output.stderr.match(/Waiting for a lock on the target/g) ?? []).length;
      expect(after, child.output.stderr).toBeGreaterThan(before);
    } finally {
      await holder.end();
    }
    expect(status, child.output.stderr).toBe(3);
    expect(lastLine(child.output.stderr)).toMatch(new RegExp(`^Gave up after (9|10|11) s waiting for a lock on the target \\(--lock-timeout 9\\): blocked by pid ${holder.pid} `));
  });
});

describe('the lock session dies mid-run', () => {
  it('LOCK_LOST at once (no round trip: the connection closing), the chunk in flight rolled back, no table after it written', async () => {
    const target = await createTestDatabase();
    const [src, tgt] = [await openDatabase(source, { applicationName: 'lock-lost source' }), await openDatabase(target, { applicationName: 'lock-lost target' })];
    let lock: HeldLock | undefined;
    let heardAfterMs = -1;
    const started: string[] = [];
    try {
      const { report } = await execute(src, tgt, {
        to: 'federated', batchSize: 100, jobs: 1,
        onLocked: (l) => void (lock = l),
        hooks: {
          onEvent: (e: CopyEvent) => void (e.type === 'table-start' && started.push(e.table)),
          failpoint: async (name) => {
            if (name !== 'chunk:messages:1') return;
            // Inside the second chunk's transaction, before its COMMIT: end the lock's session.
            const killed = Date.now();
            await query(target, `select pg_terminate_backend(${lock!.backendPid})`);
            await waitFor('the run to hear the lock is gone', () => (lock!.lost.aborted ? true : undefined), 4000);
            heardAfterMs = Date.now() - killed;
          },
        },
      });
      expect(report.ok).toBe(false);
      expect(report.error).toMatchObject({ name: 'AdvisoryLockError', code: 'LOCK_LOST' });
      // Heard from the connection closing, not from the 5 s periodic check.
      expect(heardAfterMs).toBeGreaterThanOrEqual(0);
      expect(heardAfterMs).toBeLessThan(2000);
    } finally {
      await src.close();
      await tgt.close();
    }
    expect(started.at(-1)).toBe('messages');
    const journal = await query<{ table_name: string; status: string; rows: number; chunks: number }>(target,
      'select table_name, status, rows_copied::int as rows, chunks from mosaic.migration_tables order by table_name');
    expect(journal.map((j) => j.table_name).sort()).toEqual([...started].sort());
    const messages = journal.find((j) => j.table_name === 'messages')!;
    // One chunk of heap pages committed (about 100 rows, whole pages: its rows as the journal counted them).
    expect(messages).toMatchObject({ status: 'copying', chunks: 1 });
    expect(messages.rows).toBeGreaterThan(0);
    expect(journal.filter((j) => j.table_name !== 'messages').every((j) => j.status === 'done')).toBe(true);
    for (const table of COPIED) {
      const [row] = await query<{ n: number }>(target, `select count(*)::int as n from "${table}"`);
      const entry = journal.find((j) => j.table_name === table);
      if (!entry) expect(row!.n, `${table} was never started: nothing written`).toBe(0);
      else expect(row!.n, table).toBe(entry.rows);
    }
  });

  it('CLI: exit 1 with LOCK_LOST in one line at once, even while a statement waits on a lock; no table written', async () => {
    const target = await createTestDatabase();
    expect((await runCli(['storage', 'init', '--url', target, '--tier', 'federated'])).status).toBe(0);
    // The run waits on this blocker before its first table; meanwhile its lock session is ended.
    // The blocker stays until the run has ended: a stopping run cancels its own waiting statements.
    const holder = await blocker(target, 'lock table agent_logs in share mode');
    const child = startCli(migrate(source, target));
    try {
      await waitFor('the run to wait on the blocker', async () => ((await waitingOnLock(target, 'mosaic migrate-tier')) > 0 ? true : undefined));
      const [lockRow] = await query<{ pid: number }>(target, "select l.pid from pg_locks l where l.locktype = 'advisory' and l.classid = 1299149665 and l.objid = 1768095745 and l.objsubid = 1 and l.granted and l.database = (select oid from pg_database where datname = current_database())");
      await query(target, `select pg_terminate_backend(${lockRow!.pid})`);
      const ended = Date.now();
      const status = await Promise.race([child.closed, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000))]);
      expect(status, child.output.stderr).toBe(1);
      expect(Date.now() - ended).toBeLessThan(15_000);
    } finally {
      await holder.end();
      child.kill('SIGKILL');
    }
    expect(lastLine(child.output.stderr)).toMatch(/^The connection that holds the Mosaic lock on .* was closed .*: stopping before anything more is written\. Re-run to resume\.$/);
    expect(child.output.stderr).not.toMatch(/^\s+at /m);
    expect(await query(target, 'select table_name from mosaic.migration_tables')).toEqual([]);
    for (const table of COPIED) expect(await query(target, `select 1 from "${table}" limit 1`), table).toEqual([]);
  });
});

/**
 * A loopback TCP proxy to PostgreSQL that, once `stall()` was called, forwards the server's
 * messages up to the first CopyOutResponse ('H') of a connection and then nothing more: a
 * source that stops sending in the middle of a COPY, with the connection still open.
 */
async function stallingProxy(url: string): Promise<{ url: string; stall: () => void; close: () => void }> {
  const target = new URL(url);
  let stalling = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    let dead = false;
    let first = true;
    upstream.on('data', (data: Buffer) => {
      if (dead) return;
      pending = Buffer.concat([pending, data]);
      let at = 0;
      // The first answer to an SSLRequest is a single byte; postgres.js sends none here.
      if (first && pending[0] === 0x4e) at = 1;
      first = false;
      while (pending.length - at >= 5) {
        const length = pending.readUInt32BE(at + 1);
        if (pending.length - at < 1 + length) break;
        const type = pending[at];
        at += 1 + length;
        if (stalling && type === 0x48) {
          client.write(pending.subarray(0, at));
          dead = true;
          return;
        }
      }
      client.write(pending.subarray(0, at));
      pending = pending.subarray(at);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    stall: () => void (stalling = true),
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('a source that stops sending mid-COPY', () => {
  it('fails the run with COPY_STALLED after stallMs, and the run returns (no hang)', async () => {
    const proxy = await stallingProxy(source);
    const target = await createTestDatabase();
    const [src, tgt] = [await openDatabase(proxy.url), await openDatabase(target)];
    try {
      const p = await prepare(src, tgt, { to: 'federated', batchSize: 100, jobs: 1 });
      const began = Date.now();
      const report = await run(p, { source: src, target: tgt }, { failpoint: (name) => void (name === 'chunk:messages:0' && proxy.stall()) }, { stallMs: 1500 });
      expect(report.ok).toBe(false);
      expect(report.error).toMatchObject({ name: 'CopyEngineError', code: 'COPY_STALLED' });
      expect((report.error as Error).message).toMatch(/^No data for 2 s while copying messages: the connection looks stuck\. Re-run to resume\.$/);
      expect(Date.now() - began).toBeLessThan(30_000);
      expect(report.tables.find((t) => t.table === 'messages')!.status).toBe('failed');
      // The first chunk (about 100 rows of whole heap pages) committed, the second rolled back.
      const [row] = await query<{ n: number; journaled: number; chunks: number }>(target, "select (select count(*)::int from messages) as n, rows_copied::int as journaled, chunks from mosaic.migration_tables where table_name = 'messages'");
      expect(row!.chunks).toBe(1);
      expect(row!.n).toBe(row!.journaled);
      expect(row!.n).toBeGreaterThan(0);
    } finally {
      proxy.close();
      await Promise.allSettled([src.close(), tgt.close()]);
    }
  });
});

describe('the server fences every chunk commit', () => {
  it('a run whose lock is gone behind its back (nothing tells the client) commits no chunk: LOCK_LOST, the target empty', async () => {
    const target = await createTestDatabase();
    const [src, tgt] = [await openDatabase(source), await openDatabase(target)];
    try {
      const lock = await acquireAdvisoryLock(tgt);
      const fence = lock.fenceSql;
      await lock.release(); // unlocked, as Ctrl-C does; the run below gets no signal
      const p = await prepare(src, tgt, { to: 'federated', batchSize: 100, jobs: 1 });
      const report = await run(p, { source: src, target: tgt }, {}, { lockFence: fence });
      expect(report.ok).toBe(false);
      expect(report.error).toMatchObject({ name: 'AdvisoryLockError', code: 'LOCK_LOST' });
      expect((report.error as Error).message).toMatch(/no longer held by this run \(the server checked it before the chunk's COMMIT\): nothing of that chunk was committed/);
      const [row] = await query<{ n: number; chunks: number }>(target,
        `select (${COPIED.map((t) => `(select count(*) from "${t}")`).join(' + ')})::int as n, (select coalesce(sum(chunks), 0)::int from mosaic.migration_tables) as chunks`);
      expect(row).toEqual({ n: 0, chunks: 0 });
    } finally {
      await Promise.allSettled([src.close(), tgt.close()]);
    }
  });
});

describe('a table whose row count differs after its copy', () => {
  it('COPY_MISMATCH: a target trigger that drops rows; exit 1, one line, the table not marked done', async () => {
    const target = await createTestDatabase();
    expect((await runCli(['storage', 'init', '--url', target, '--tier', 'federated'])).status).toBe(0);
    await query(target, `create function drop_some() returns trigger language plpgsql as $$ begin if new.level = 'debug' then return null; end if; return new; end $$;
      create trigger drop_some before insert on agent_logs for each row execute function drop_some()`);
    const [counts] = await query<{ all: number; kept: number }>(source, "select count(*)::int as all, count(*) filter (where level <> 'debug')::int as kept from agent_logs");
    expect(counts!.kept).toBeLessThan(counts!.all);
    const result = await runCli(migrate(source, target));
    expect(result.status, result.stderr).toBe(1);
    expect(lastLine(result.stderr)).toBe(`agent_logs: the source snapshot has ${counts!.all} rows, the target ${counts!.kept} after the copy. Nothing was marked done; re-run to converge, and report this.`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const [entry] = await query<{ status: string }>(target, "select status from mosaic.migration_tables where table_name = 'agent_logs'");
    expect(entry!.status).toBe('copying');
  });
});

describe('a background index build that fails while tables still load', () => {
  it('ends the run with that error: one clean line, exit 1, no unhandled rejection', async () => {
    const target = await createTestDatabase();
    expect((await runCli(['storage', 'init', '--url', target, '--tier', 'federated'])).status).toBe(0);
    // Hold the journal so the run waits after dropping its indexes and before its first table;
    // meanwhile take the name of the HNSW index it will rebuild once insights (first) is in.
    const holder = await blocker(target, 'lock table mosaic.migration_tables in exclusive mode');
    const child = startCli(migrate(source, target, '--jobs', '1', '--batch-size', '100'));
    try {
      await waitFor('the run to wait on the journal', async () => ((await waitingOnLock(target, 'mosaic migrate-tier')) > 0 ? true : undefined));
      await query(target, 'create table insights_embedding_hnsw (id int)');
    } finally {
      await holder.end();
    }
    const status = await child.closed;
    expect(status, child.output.stderr).toBe(1);
    expect(lastLine(child.output.stderr)).toMatch(/^PostgreSQL error 42P07 at .*: relation "insights_embedding_hnsw" already exists/);
    expect(child.output.stderr).not.toMatch(/Unhandled|^\s+at /m);
    expect(child.output.stderr).not.toContain('Unexpected error');
    // Stopped at once: the tables after insights did not all load.
    const [row] = await query<{ n: number }>(target, "select count(*)::int as n from mosaic.migration_tables where status = 'done'");
    expect(row!.n).toBeLessThan(COPIED.length);
  });
});
