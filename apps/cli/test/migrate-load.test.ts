import { describe, expect, it } from 'vitest';
import { loadDdl, SKIPPED_TABLES } from '@mosaic/schema';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { expectMigrated, initSeed, presentLoadDdl, query, unfenceSource } from './migrate-helpers.js';
import { runCli } from './run-cli.js';

const migrate = (source: string, target: string, ...extra: string[]) =>
  runCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', ...extra]);

interface JsonReport {
  mode: string;
  result: { ok: boolean; rebuilt: Array<{ table: string; name: string; kind: string; seconds: number }> };
}

describe('foreign keys and indexes during the load', () => {
  it('are off while a fresh target loads, even across a crash, and all back at the end', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    const crashed = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', '--batch-size', '500'], { MOSAIC_FAILPOINT: 'chunk:messages:1' });
    expect(crashed.status, crashed.stderr).toBeNull();
    // Mid-load: no foreign key of a table still loading, nor one that references such a table
    // (the skipped tables keep theirs). A table's indexes are built as soon as it is loaded (so
    // insights may have its HNSW index), and a foreign key goes back once both of its tables are
    // in: only those may be there.
    const midway = await presentLoadDdl(target);
    const done = new Set((await query<{ t: string }>(target, "select table_name as t from mosaic.migration_tables where status = 'done'")).map((r) => r.t));
    const copiedKeys = loadDdl('federated').filter((d) => d.kind === 'foreign-key' && !Object.hasOwn(SKIPPED_TABLES, d.table));
    expect(copiedKeys.length).toBeGreaterThan(20);
    const early = copiedKeys.filter((d) => midway.includes(`foreign-key ${d.name}`));
    expect(early.filter((d) => !done.has(d.table) || !done.has(d.references!)).map((d) => d.name)).toEqual([]);
    expect(early.map((d) => d.table)).not.toContain('messages'); // the table the crash stopped
    // Primary keys: a table loading by heap pages goes without one (messages, stopped mid-load);
    // users keeps its key, which sessions (a table not copied) still references.
    expect(midway).not.toContain('primary-key messages_pkey');
    expect(midway).toContain('primary-key users_pkey');

    const rerun = await migrate(source, target, '--batch-size', '500', '--json');
    expect(rerun.status, rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout) as JsonReport;
    expect(report.mode).toBe('resume');
    const rebuilt = report.result.rebuilt.map((d) => `${d.kind} ${d.name}`);
    expect(rebuilt).toContain('index insights_embedding_hnsw');
    expect(rebuilt).toContain('foreign-key messages_parent_id_messages_id_fk');
    expect(rebuilt).toContain('foreign-key users_active_team_id_teams_id_fk');
    expect(rebuilt.indexOf('index insights_embedding_hnsw')).toBeLessThan(rebuilt.findIndex((r) => r.startsWith('foreign-key')));
    // messages' key is added back once its rows are in, before the foreign key that needs it.
    expect(rebuilt).toContain('primary-key messages_pkey');
    expect(rebuilt.indexOf('primary-key messages_pkey')).toBeLessThan(rebuilt.indexOf('foreign-key messages_parent_id_messages_id_fk'));
    await expectMigrated(source, target, false); // includes: every FK and index of the tier is back
  });

  it('stay on for a role that does not own the tables: self-references are loaded NULL and set after', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 3);
    const admin = await createTestDatabase();
    const init = await runCli(['storage', 'init', '--url', admin, '--tier', 'federated']);
    expect(init.status, init.stderr).toBe(0);
    const role = `mosaic_writer_${Math.random().toString(36).slice(2, 8)}`;
    await query(admin, `create role ${role} login;
      grant create on database "${new URL(admin).pathname.slice(1)}" to ${role};
      grant usage, create on schema public, mosaic, drizzle to ${role};
      grant select, insert, update on all tables in schema public, mosaic, drizzle to ${role};
      grant usage, select, update on all sequences in schema public to ${role}`);
    const target = Object.assign(new URL(admin), { username: role }).toString();

    const result = await migrate(source, target, '--json');
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.result.rebuilt).toEqual([]);
    await expectMigrated(source, admin, false);
    const [row] = await query<{ n: number }>(admin, 'select count(*)::int as n from messages where parent_id is not null');
    expect(row!.n).toBeGreaterThan(0);
  });
});

describe('a foreign key that does not hold once the rows are in', () => {
  it('stops the run with CONSTRAINT_FAILED, one line, exit 1, the run left open', async () => {
    const source = await createTestDatabase();
    await initSeed(source, 'standalone', 2);
    // A source that broke its own foreign key (dropped by hand, then an orphan row).
    await query(source, `alter table messages drop constraint messages_conversation_id_conversations_id_fk;
      insert into messages (conversation_id, role, content) values (gen_random_uuid(), 'user', 'orphan')`);
    const target = await createTestDatabase();
    const result = await migrate(source, target);
    expect(result.status, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toMatch(/messages: foreign key messages_conversation_id_conversations_id_fk does not hold for the copied rows/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const [run] = await query<{ status: string }>(target, 'select status from mosaic.migration_runs');
    expect(run!.status).toBe('running');
  });
});

describe('a re-run onto a finished target (converge)', () => {
  it('leaves identical rows untouched and carries every change, a cleared self-reference included', async () => {
    const source = await createTestDatabase();
    await initSeed(source, 'standalone', 3);
    const target = await createTestDatabase();
    expect((await migrate(source, target)).status).toBe(0);

    const [child] = await query<{ id: string; parent: string }>(source, 'select id::text, parent_id::text as parent from messages where parent_id is not null order by id limit 1');
    const [edited] = await query<{ id: string }>(source, `select id::text from messages where id <> '${child!.id}' order by id desc limit 1`);
    const [untouched] = await query<{ id: string }>(source, `select id::text from messages where id not in ('${child!.id}', '${edited!.id}') and parent_id is null order by id limit 1`);
    const [before] = await query<{ xmin: string }>(target, `select xmin::text from messages where id = '${untouched!.id}'`);
    await unfenceSource(source); // the verified run retired it
    await query(source, `update messages set parent_id = null where id = '${child!.id}';
      update messages set content = content || ' (edited)', tool_calls = '{"a": 2406.60}' where id = '${edited!.id}'`);

    const rerun = await migrate(source, target, '--json');
    expect(rerun.status, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as JsonReport).mode).toBe('converge');
    await expectMigrated(source, target, false);
    const [cleared] = await query<{ parent: string | null }>(target, `select parent_id::text as parent from messages where id = '${child!.id}'`);
    expect(cleared!.parent).toBeNull();
    const [changed] = await query<{ metadata: string }>(target, `select tool_calls::text as metadata from messages where id = '${edited!.id}'`);
    expect(changed!.metadata).toBe('{"a": 2406.60}');
    const [after] = await query<{ xmin: string }>(target, `select xmin::text from messages where id = '${untouched!.id}'`);
    expect(after!.xmin).toBe(before!.xmin); // not rewritten: no new row version
  });

  it('interrupted, goes on as a converge run when re-run (rows already there are upserted, not copied twice)', async () => {
    const source = await createTestDatabase();
    await initSeed(source, 'standalone', 3);
    const target = await createTestDatabase();
    expect((await migrate(source, target)).status).toBe(0);
    await unfenceSource(source); // the verified run retired it
    // Enough changed rows that the converge run sends messages in several chunks of 100 (only
    // buckets that differ move), so the kill lands in its second one.
    await query(source, "update messages set content = content || ' (edited)' where id in (select id from messages order by id limit 400)");

    const crashed = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', '--batch-size', '100'], { MOSAIC_FAILPOINT: 'chunk:messages:1' });
    expect(crashed.status, crashed.stderr).toBeNull(); // killed by SIGKILL in the middle of messages
    const rerun = await migrate(source, target, '--batch-size', '100');
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('resuming it');
    await expectMigrated(source, target, false);
  });
});
