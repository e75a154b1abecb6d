import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { digests, expectMigrated, initSeed, query, unfenceSource } from './migrate-helpers.js';
import { expectOneCleanLine, runCli } from './run-cli.js';

const migrate = (source: string, target: string, ...extra: string[]) =>
  runCli(['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', ...extra]);

/**
 * Runs SQL in a store (PGlite directory or PostgreSQL), as an application writing to it would,
 * after the operator rolled back: a verified run retired the source (it refuses writes).
 */
async function write(location: string, sql: string): Promise<void> {
  await unfenceSource(location);
  const db = await openDatabase(location);
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

const sources = [
  { name: 'PostgreSQL', make: async () => { const url = await createTestDatabase('mosaic_test', 'standalone'); await initSeed(url, 'standalone', 3); return url; } },
  { name: 'PGlite', make: async () => { const dir = tempStorePath(); await initSeed(dir, 'local', 3); return dir; } },
];

/** Rows updated and deleted in the target's public tables, once the statistics have settled (backends flush them as they end). */
async function writes(target: string): Promise<string> {
  const read = async () => (await query<{ w: string }>(target, `select pg_stat_clear_snapshot();
    select format('%s updated, %s deleted', sum(n_tup_upd), sum(n_tup_del)) as w from pg_stat_user_tables where schemaname = 'public'`))[0]!.w;
  let last = await read();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await read();
    if (now === last) return now;
    last = now;
  }
  return last;
}

describe.each(sources)('converge from a $name source', ({ make }) => {
  it('carries deletes (credentials, an account, a user whose NO ACTION children moved), updates and inserts, re-created unique values included; a second re-run rewrites nothing', async () => {
    const source = await make();
    const target = await createTestDatabase('mosaic_test', 'federated');
    const first = await migrate(source, target);
    expect(first.status, first.stderr).toBe(0);

    const [credentials] = await query<{ n: number }>(target, 'select count(*)::int as n from provider_credentials');
    await write(source, `
      create temp table gone_pref as select user_id, key from preferences order by id limit 1;
      delete from provider_credentials where id = (select id from provider_credentials order by id limit 1);
      delete from accounts where id = (select id from accounts order by id limit 1);
      delete from preferences where (user_id, key) in (select user_id, key from gone_pref);
      delete from messages where id in (select id from messages where parent_id is null order by id limit 3);
      -- Enough messages with replies that the delete pass builds its helper indexes on the
      -- unindexed references to them (messages.parent_id, appreciations.message_id: SET NULL).
      create temp table answered as select parent_id as id from messages where parent_id is not null group by 1 order by 1 limit 10;
      update appreciations set message_id = (select id from answered order by id limit 1) where id in (select id from appreciations order by id limit 2);
      delete from messages where id in (select id from answered);
      delete from tasks where id in (select id from tasks order by id limit 2);
      update messages set content = content || ' (edited)' where id in (select id from messages order by id desc limit 100);
      insert into preferences (user_id, key, value) select user_id, key, '{"re": "created"}' from gone_pref;
      insert into agent_logs (agent_id, level, message) select (select id from agents order by id limit 1), 'info', 'new ' || g from generate_series(1, 98) g;
      -- A unique value moves between two rows that both stay: a skill renamed, and another skill
      -- of the same owner takes its old name ((owner_id, name) is unique).
      create temp table renamed as select id, owner_id, name from skills where owner_id = (select owner_id from skills group by owner_id having count(*) > 1 order by owner_id limit 1) order by id limit 2;
      update skills set name = name || ' (renamed)' where id = (select id from renamed order by id limit 1);
      update skills set name = (select name from renamed order by id limit 1) where id = (select id from renamed order by id desc limit 1);
      -- A user leaves: what they own (ON DELETE NO ACTION) passes to another user first; then a
      -- new user signs up with the same email (users.email is unique).
      create temp table moved as select (select id from users order by id limit 1) as old, (select id from users order by id desc limit 1) as heir,
        (select email from users order by id limit 1) as email;
      update teams set owner_id = (select heir from moved) where owner_id = (select old from moved);
      update projects set owner_id = (select heir from moved) where owner_id = (select old from moved);
      update agents set owner_id = (select heir from moved) where owner_id = (select old from moved);
      update missions set created_by = (select heir from moved) where created_by = (select old from moved);
      update tickets set reporter_id = (select heir from moved) where reporter_id = (select old from moved);
      delete from users where id = (select old from moved);
      insert into users (id, email, name) select 'usr_recreated', email, 'Re-created' from moved;`);

    const rerun = await migrate(source, target, '--json');
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout) as { mode: string; verification: { ok: boolean } };
    expect(report.mode).toBe('converge');
    expect(report.verification.ok).toBe(true);
    await expectMigrated(source, target, false);
    const [after] = await query<{ n: number }>(target, 'select count(*)::int as n from provider_credentials');
    expect(after!.n).toBeLessThan(credentials!.n); // the revoked one is gone (and the departed user's, by cascade)
    const [recreated] = await query<{ value: string }>(target, `select value::text from preferences where value = '{"re": "created"}'`);
    expect(recreated).toBeDefined();
    const [user] = await query<{ id: string }>(target, "select id from users where name = 'Re-created'");
    expect(user!.id).toBe('usr_recreated');
    const messages = (JSON.parse(rerun.stdout) as { result: { tables: { table: string; deleted: number }[] } }).result.tables.find((t) => t.table === 'messages')!;
    expect(messages.deleted).toBeGreaterThanOrEqual(13);
    // The helper indexes lived in the delete's transaction only.
    expect(await query(target, "select indexrelid::regclass::text as name from pg_index where indexrelid::regclass::text like 'mosaic_converge%'")).toEqual([]);

    const before = await writes(target);
    const again = await migrate(source, target);
    expect(again.status, again.stdout + again.stderr).toBe(0);
    // Each table's comparison is said as it ends (on a big store the checksums take minutes).
    expect(again.stdout + again.stderr).toMatch(/\[migrate-tier\] {3}messages: compared in \d+\.\d s: identical in [\d,]+ buckets?; [\d,]+ rows in the source, [\d,]+ in the target/);
    expect(await writes(target)).toBe(before); // no row updated or deleted: identical rows are left alone
  }, 300_000);

  it('refuses a target written since its finished run (exit 3, one line, nothing written); --overwrite-target-changes converges it', async () => {
    const source = await make();
    const target = await createTestDatabase('mosaic_test', 'federated');
    const first = await migrate(source, target);
    expect(first.status, first.stderr).toBe(0);

    // After cutover, the application writes to the target.
    await query(target, `update preferences set value = '{"edited": "in the target"}' where id = (select id from preferences order by id limit 1);
      insert into agent_logs (agent_id, level, message) select id, 'info', 'written in the target' from agents order by id limit 1`);
    const [written] = await query<{ id: string }>(target, "select max(id)::text as id from agent_logs where message = 'written in the target'");
    const snapshot = await digests(target, true);

    for (const extra of [[], ['--dry-run']]) {
      const refused = await migrate(source, target, ...extra);
      expect(refused.status, refused.stdout + refused.stderr).toBe(3);
      const line = expectOneCleanLine(refused.stderr);
      expect(line).toMatch(/^mosaic: The target \S+ was written since the migration from this source finished: /);
      expect(line).toMatch(/preferences \(about 1 row\)/);
      expect(line).toMatch(/agent_logs \(about 1 row\)/);
      expect(line).toContain('--overwrite-target-changes');
      expect(await digests(target, true)).toEqual(snapshot);
    }
    // A script asking for JSON gets the refusal as one document on stdout, with its code.
    const json = await migrate(source, target, '--json');
    expect(json.status).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'TARGET_CHANGED_SINCE_RUN', exitStatus: 3, message: expect.stringMatching(/preferences \(about 1 row\)/) } });
    expect(expectOneCleanLine(json.stderr)).toMatch(/^mosaic: The target /);
    expect(await digests(target, true)).toEqual(snapshot);

    const overwritten = await migrate(source, target, '--overwrite-target-changes');
    expect(overwritten.status, overwritten.stdout + overwritten.stderr).toBe(0);
    await expectMigrated(source, target, false);
    // The identity sequence never moves back below an id the target handed out itself.
    const [next] = await query<{ id: string }>(target, "insert into agent_logs (agent_id, level, message) select id, 'info', 'next' from agents limit 1 returning id::text");
    expect(BigInt(next!.id)).toBeGreaterThan(BigInt(written!.id));
    await query(target, "delete from agent_logs where message = 'next'");
  }, 300_000);
});

describe('a converge re-run into a target that lost a primary key (a run stopped between a table\'s end and its key build)', () => {
  it('puts the key back before it compares and upserts: exit 0, identical, every key there', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 2);
    const target = await createTestDatabase();
    expect((await migrate(source, target)).status).toBe(0);
    // As a kill between finishTable and the background ADD PRIMARY KEY leaves it.
    await query(target, 'alter table preferences drop constraint preferences_pkey');
    // A changed row: the re-run upserts it (ON CONFLICT on the key), which needs the key back first.
    await write(source, "update preferences set value = '\"changed\"'::jsonb where id = (select id from preferences order by id limit 1)");
    const rerun = await migrate(source, target, '--json');
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout) as { result: { rebuilt: { kind: string; name: string }[] } };
    expect(report.result.rebuilt.map((d) => `${d.kind} ${d.name}`)).toContain('primary-key preferences_pkey');
    await expectMigrated(source, target, false); // every foreign key, index and primary key of the tier
  }, 120_000);
});
