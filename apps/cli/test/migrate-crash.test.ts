import { describe, expect, it } from 'vitest';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { expectMigrated, initSeed, query, unfenceSource } from './migrate-helpers.js';
import { finished, runCli, startCli } from './run-cli.js';

const args = (source: string, target: string) => ['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', '--batch-size', '500'];

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
      // Exactly the two committed chunks are there (heap-page chunks of about 500 rows each,
      // as the journal counted them): the third died with its transaction.
      const [row] = await query<{ n: number; journaled: number; chunks: number }>(target,
        "select (select count(*)::int from messages) as n, rows_copied::int as journaled, chunks from mosaic.migration_tables where table_name = 'messages'");
      expect(row!.chunks).toBe(2);
      expect(row!.n).toBe(row!.journaled);
      expect(row!.n).toBeGreaterThan(500);
      expect(row!.n).toBeLessThan(1500);
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

describe('a resume whose table stopped half-way meets a re-created unique value', () => {
  it('a preference deleted and created again under a key after the stop: the re-run deletes the old copy first, exit 0, identical', async () => {
    const source = await createTestDatabase('mosaic_test', 'standalone');
    await initSeed(source, 'standalone', 5);
    // The big tables out: chunks of 5 rows would take minutes through them.
    await query(source, 'delete from messages; delete from agent_logs; delete from events; delete from tasks');
    const target = await createTestDatabase('mosaic_test', 'federated');
    // Chunks of 5 rows: two chunks of preferences are in when the run dies.
    const small = [...args(source, target).slice(0, -2), '--batch-size', '5', '--jobs', '1'];
    const crashed = await runCli(small, { MOSAIC_FAILPOINT: 'chunk:preferences:2' });
    expect(crashed.status, crashed.stderr).toBeNull();
    const [copied] = await query<{ id: string; n: number }>(target, 'select (select id::text from preferences order by id limit 1) as id, count(*)::int as n from preferences');
    expect(copied!.n).toBe(10);
    // The first copied preference goes, and its (user_id, key) comes back under a key that sorts after the stop.
    await unfenceSource(source);
    await query(source, `
      create temp table gone as select user_id, key from preferences where id = '${copied!.id}';
      delete from preferences where id = '${copied!.id}';
      insert into preferences (id, user_id, key, value) select 'ffffffff-ffff-4fff-bfff-ffffffffffff', user_id, key, '{"re": "created"}' from gone`);
    const rerun = await runCli(small);
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/preferences: \d+ rows: resume after the last key copied \(10 rows in from the earlier run\)/);
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
