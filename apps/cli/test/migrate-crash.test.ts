import { describe, expect, it } from 'vitest';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { expectMigrated, initSeed, query, unfenceSource } from './migrate-helpers.js';
import { finished, runCli, startCli } from './run-cli.js';

// Two jobs, said rather than left to the default: the chunk counts below depend on it.
const args = (source: string, target: string) => ['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', '--jobs', '2', '--batch-size', '500'];

describe('kill -9 at any point, then a re-run: identical to an uninterrupted run', () => {
  const points = [
    ['during schema apply', 'schema', false],
    ['in the middle of a big table', 'chunk:messages:2', true],
    ['between tables', 'table-done:conversations', true],
    ['during sequence reset', 'sequences:agent_logs', true],
  ] as const;

  it.each(points)('%s (%s)', async (_name, point, resumes) => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    const crashed = await runCli(args(source, target), { MOSAIC_FAILPOINT: point });
    expect(crashed.status, crashed.stderr).toBeNull(); // killed by SIGKILL
    if (point === 'chunk:messages:2') {
      // Exactly the committed chunks are there (heap-page chunks of about 500 rows each, as the
      // journal counted them): the third died with its transaction. Two jobs copy messages, so
      // the second chunk (the other job's) may not have committed yet when the third stops.
      const [row] = await query<{ n: number; journaled: number; chunks: number }>(target,
        "select (select count(*)::int from messages) as n, rows_copied::int as journaled, chunks from mosaic.migration_tables where table_name = 'messages'");
      expect([1, 2]).toContain(row!.chunks);
      expect(row!.n).toBe(row!.journaled);
      expect(row!.n).toBeGreaterThan(250 * row!.chunks);
      expect(row!.n).toBeLessThan(750 * row!.chunks);
    }
    const rerun = await runCli(args(source, target));
    expect(rerun.status, rerun.stderr).toBe(0);
    if (resumes) expect(rerun.stdout).toContain('Precondition: target holds an unfinished run from this source: resuming it ✓');
    else expect(rerun.stdout).toContain('Precondition: target is empty ✓');
    await expectMigrated(source, target, false);
  });

  it('a kill -9 from outside while messages stream, then a re-run', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    const child = startCli(['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', target, '--yes', '--batch-size', '200']);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never saw messages progress:\n${child.output.stderr}`)), 60_000);
      child.stderr!.on('data', () => {
        if (/messages: \d+\/\d+ rows/.test(child.output.stderr)) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await child.closed;
    const rerun = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', target, '--yes', '--batch-size', '200']);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('resuming it ✓');
    await expectMigrated(source, target, false);
  });
});

describe('a PostgreSQL source killed, then written, then resumed: equal to a fresh run from the new snapshot', () => {
  // Tables to delete a row from once the crashed run has finished them, in this order of preference.
  const deletable = ['insights', 'preferences', 'provider_credentials', 'events', 'agent_logs', 'tickets', 'tasks', 'conversations', 'accounts', 'users'];
  const keyOf: Record<string, string> = { agent_logs: 'id' };

  it.each([
    ['in the middle of messages', 'chunk:messages:2'],
    ['between tables', 'table-done:conversations'],
    ['during sequence reset', 'sequences:agent_logs'],
  ] as const)('%s (%s)', async (_name, point) => {
    const source = await createTestDatabase('mosaic_test', 'standalone');
    await initSeed(source, 'standalone', 5);
    const target = await createTestDatabase('mosaic_test', 'federated');
    const crashed = await runCli(args(source, target), { MOSAIC_FAILPOINT: point });
    expect(crashed.status, crashed.stderr).toBeNull(); // killed by SIGKILL

    const finished = new Set((await query<{ table_name: string }>(target, "select table_name from mosaic.migration_tables where status = 'done' and rows_copied > 0")).map((r) => r.table_name));
    const gone = deletable.find((t) => finished.has(t));
    expect(gone, `a table finished before ${point}: ${[...finished].join(', ')}`).toBeDefined();
    const key = keyOf[gone!] ?? 'id';
    // The killed run left the source frozen (its writers refused); the operator lets them write again.
    await unfenceSource(source);
    // Keys that sort before anything copied: a resume that went on after its last key would miss them.
    await query(source, `
      insert into users (id, email, name) values ('usr_0000_after_crash', 'after-crash@example.invalid', 'Written after the crash');
      insert into conversations (id, user_id, title) values ('00000000-0000-4000-8000-000000000001', 'usr_0000_after_crash', 'after the crash');
      insert into messages (id, conversation_id, role, content) values ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'user', 'written after the crash');
      delete from ${gone} where ${key} = (select ${key} from ${gone} order by ${key} limit 1)`);

    const rerun = await runCli(args(source, target));
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('resuming it ✓');
    expect(rerun.stdout).toMatch(/re-check the whole table by bucket checksums|re-check by bucket checksums/);
    expect(rerun.stdout + rerun.stderr).not.toContain('CONSTRAINT_FAILED');
    expect(rerun.stdout).toContain('identical');
    await expectMigrated(source, target, false);
    const [message] = await query<{ n: number }>(target, "select count(*)::int as n from messages where id = '00000000-0000-4000-8000-000000000002'");
    expect(message!.n).toBe(1);
  });
});

describe('a source killed while two jobs copy the pages of one table', () => {
  // From PostgreSQL each job reads its own page ranges inside the snapshot; from PGlite the
  // store's one thread exports the ranges in turn and the two jobs' target sessions ingest them.
  it.each(['PostgreSQL', 'PGlite'])('%s: the re-run starts that table over (restart), by two jobs again, and ends identical', async (engine) => {
    const source = engine === 'PGlite' ? tempStorePath() : await createTestDatabase('mosaic_test', 'standalone');
    await initSeed(source, engine === 'PGlite' ? 'local' : 'standalone', 5);
    const target = await createTestDatabase('mosaic_test', 'federated');
    const two = [...args(source, target).slice(0, -4), '--batch-size', '200', '--jobs', '2'];
    const dry = await runCli([...two, '--dry-run']);
    expect(dry.status, dry.stderr).toBe(0);
    const planned = /^ {2}messages: (\d+) rows: fresh load in heap-page chunks of about 200 rows, 2 jobs at once$/m.exec(dry.stdout);
    expect(planned, dry.stdout).not.toBeNull();
    const total = { n: Number(planned![1]) };
    expect(total.n).toBeGreaterThan(600);
    // Killed when a chunk of messages has ended its COPY while another job holds a chunk of it
    // open too, and at least one chunk of it has committed (the failpoint fires only then: the
    // run would otherwise finish, and exit 0).
    const crashed = await runCli(two, { MOSAIC_FAILPOINT: 'chunks-at-once:messages' });
    expect(crashed.status, crashed.stderr).toBeNull(); // killed by SIGKILL
    // Whole chunks only, from both jobs, counted exactly by the one journal row they share.
    const [row] = await query<{ n: number; journaled: number; chunks: number; status: string }>(target,
      "select (select count(*)::int from messages) as n, rows_copied::int as journaled, chunks, status from mosaic.migration_tables where table_name = 'messages'");
    expect(row!.status).toBe('copying');
    expect(row!.n).toBe(row!.journaled);
    expect(row!.chunks).toBeGreaterThan(0);
    expect(row!.n).toBeGreaterThan(0);
    expect(row!.n).toBeLessThan(total.n);

    const rerun = await runCli(two);
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('resuming it ✓');
    expect(rerun.stdout).toMatch(new RegExp(`^ {2}messages: \\d+ rows: start over: ${row!.n} rows from the earlier run were copied by pages, which no longer name them; emptied and loaded again in heap-page chunks, 2 jobs at once$`, 'm'));
    expect(rerun.stdout).toContain('identical');
    await expectMigrated(source, target, false);
    const [after] = await query<{ n: number; journaled: number; status: string }>(target,
      "select (select count(*)::int from messages) as n, rows_copied::int as journaled, status from mosaic.migration_tables where table_name = 'messages'");
    expect(after).toEqual({ n: total.n, journaled: total.n, status: 'done' });
  });
});

describe('a key-ordered resume whose table stopped half-way meets a re-created unique value', () => {
  it('a preference deleted and created again under a key after the stop: the re-run deletes the old copy first, exit 0, identical', async () => {
    const source = await createTestDatabase('mosaic_test', 'standalone');
    await initSeed(source, 'standalone', 5);
    // The big tables out (nothing to do with this), and preferences over several heap pages.
    await query(source, `delete from messages; delete from agent_logs; delete from events; delete from tasks;
      insert into preferences (id, user_id, key, value) select gen_random_uuid(), u.id, 'extra_' || g, '{}' from users u, generate_series(1, 100) g`);
    const target = await createTestDatabase('mosaic_test', 'federated');
    // Chunks of one heap page: two chunks of preferences are in when the run dies.
    const small = [...args(source, target).slice(0, -4), '--batch-size', '5', '--jobs', '1'];
    const crashed = await runCli(small, { MOSAIC_FAILPOINT: 'chunk:preferences:2' });
    expect(crashed.status, crashed.stderr).toBeNull();
    const [copied] = await query<{ id: string; n: number }>(target, 'select (select id::text from preferences order by id limit 1) as id, count(*)::int as n from preferences');
    expect(copied!.n).toBeGreaterThan(0);
    // A PostgreSQL 14+ source goes by pages, and a stopped page copy starts over (emptied): no old
    // copy to meet. A key-ordered copy (a source before 14, or a run of an earlier version of this
    // tool) goes on after its last key instead: its journal position, as such a run leaves it
    // (the re-check by bucket checksums then brings the rows before that key that are not in).
    await query(target, `update mosaic.migration_tables set last_key = jsonb_build_array((select id::text from preferences order by id desc limit 1)) where table_name = 'preferences'`);
    // The first copied preference goes, and its (user_id, key) comes back under a key that sorts after the stop.
    await unfenceSource(source);
    await query(source, `
      create temp table gone as select user_id, key from preferences where id = '${copied!.id}';
      delete from preferences where id = '${copied!.id}';
      insert into preferences (id, user_id, key, value) select 'ffffffff-ffff-4fff-bfff-ffffffffffff', user_id, key, '{"re": "created"}' from gone`);
    const rerun = await runCli(small);
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(new RegExp(`preferences: \\d+ rows: resume after the last key copied \\(${copied!.n} rows in from the earlier run\\)`));
    await expectMigrated(source, target, false);
  });
});

describe('two invocations at once', () => {
  it('one waits for the lock, both end 0, the target identical to the source', async () => {
    const source = await createTestDatabase();
    await initSeed(source, 'standalone', 5);
    const target = await createTestDatabase();
    const a = startCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes']);
    const b = startCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes']);
    const [ra, rb] = await Promise.all([finished(a, ['a']), finished(b, ['b'])]);
    expect(ra.status, ra.stderr).toBe(0);
    expect(rb.status, rb.stderr).toBe(0);
    expect(`${ra.stderr}${rb.stderr}`).toMatch(/Waiting for the Mosaic lock .*\n.*held by pid \d+, mosaic migrate-tier/);
    await expectMigrated(source, target, false);
  });
});
