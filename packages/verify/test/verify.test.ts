import { beforeAll, describe, expect, inject, it } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '@mosaic/connection';
import { plan, readLatestRun, run } from '@mosaic/copy-engine';
import { applyMigrations } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { seed } from '@mosaic/seed';
import { detectDatabase } from '@mosaic/tier-detect';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { compare } from '../src/index.js';
import type { VerifyReport } from '../src/index.js';

async function seeded(location: string, tier: Tier, scale: number): Promise<void> {
  const db = await openDatabase(location, { create: true });
  try {
    await applyMigrations(db, tier);
    await seed(db, { scale, seed: 5 });
  } finally {
    await db.close();
  }
}

async function migrate(source: string, target: string, to: Tier): Promise<void> {
  const [s, t] = [await openDatabase(source), await openDatabase(target)];
  try {
    const p = plan(await detectDatabase(s), await detectDatabase(t), await readLatestRun(t).catch(() => undefined), { to, batchSize: 1000, jobs: 2 });
    const report = await run(p, { source: s, target: t });
    expect(report.ok, String(report.error)).toBe(true);
  } finally {
    await Promise.all([s.close(), t.close()]);
  }
}

async function verify(source: string, target: string): Promise<VerifyReport> {
  const [s, t] = [await openDatabase(source), await openDatabase(target)];
  try {
    return await compare(s, t);
  } finally {
    await Promise.all([s.close(), t.close()]);
  }
}

describe('verify after a clean migration: identical in every direction', () => {
  it.each([
    ['local -> standalone', 'local', 'standalone'],
    ['local -> federated', 'local', 'federated'],
    ['standalone -> federated', 'standalone', 'federated'],
    ['federated -> federated', 'federated', 'federated'],
  ] as const)('%s', async (_name, from, to) => {
    const source = from === 'local' ? tempStorePath() : await createTestDatabase();
    await seeded(source, from, 2);
    const target = await createTestDatabase();
    await migrate(source, target, to);
    const report = await verify(source, target);
    expect(report.rules.filter((r) => !r.ok)).toEqual([]);
    expect(report.tables.filter((t) => t.status !== 'identical').map((t) => t.table)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.tables).toHaveLength(19);
    expect(report.identicalRows).toBeGreaterThan(1500);
    expect(report.rules.map((r) => r.rule)).toEqual(from === 'local' && to === 'federated' || from === 'standalone'
      ? ['skipped-tables-empty', 'embeddings', 'sequences', 'foreign-keys']
      : ['skipped-tables-empty', 'sequences', 'foreign-keys']);
  });
});

describe('verify finds and locates every single mutation', () => {
  let source: string;
  let template: string;
  const admin = () => postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    source = await createTestDatabase();
    await seeded(source, 'federated', 2);
    template = await createTestDatabase();
    await migrate(source, template, 'federated');
  }, 120_000);

  /** A fresh copy of the migrated target (CREATE DATABASE ... TEMPLATE), mutated by `sql`. */
  async function mutated(sql: string): Promise<{ target: string; key: string | undefined }> {
    const target = await createTestDatabase('mosaic_mut');
    const name = new URL(target).pathname.slice(1);
    const a = admin();
    try {
      await a.unsafe(`drop database "${name}"`);
      await a.unsafe(`create database "${name}" template "${new URL(template).pathname.slice(1)}"`);
    } finally {
      await a.end();
    }
    const t = postgres(target, { max: 1, onnotice: () => {} });
    try {
      const rows = await t.unsafe(sql);
      const first = rows[0] as { key?: string } | undefined;
      return { target, key: first?.key };
    } finally {
      await t.end();
    }
  }

  const changes: Array<[string, string, string]> = [
    ['text', 'messages', "update messages set content = content || '!' where id = (select id from messages order by id limit 1) returning id::text as key"],
    ['uuid', 'conversations', 'update conversations set agent_id = (select id from agents where id <> coalesce(conversations.agent_id, gen_random_uuid()) limit 1) where id = (select id from conversations order by id limit 1) returning id::text as key'],
    ['timestamptz (one microsecond)', 'events', "update events set occurred_at = occurred_at + interval '1 microsecond' where id = (select id from events order by id limit 1) returning id::text as key"],
    ['bigint above 2^53', 'events', 'update events set seq = seq + 1 where id = (select id from events order by id desc limit 1) returning id::text as key'],
    ['numeric (last digit)', 'messages', 'update messages set cost_usd = cost_usd + 0.00000001 where id = (select id from messages where cost_usd is not null order by id limit 1) returning id::text as key'],
    ['bytea (one byte)', 'provider_credentials', 'update provider_credentials set encrypted_key = set_byte(encrypted_key, 3, (get_byte(encrypted_key, 3) + 1) % 256) where id = (select id from provider_credentials order by id limit 1) returning id::text as key'],
    ['text[] (one element)', 'agents', "update agents set tools = array_append(tools[1:array_length(tools, 1) - 1], 'x') where id = (select id from agents where cardinality(tools) > 0 order by id limit 1) returning id::text as key"],
    ['jsonb (one nested number)', 'events', "update events set payload = jsonb_set(payload, '{nested,k}', to_jsonb((payload #>> '{nested,k}')::numeric + 1)) where id = (select id from events where payload #> '{nested,k}' is not null order by id limit 1) returning id::text as key"],
    ['enum', 'tasks', "update tasks set status = case when status = 'done' then 'todo'::task_status else 'done'::task_status end where id = (select id from tasks order by id limit 1) returning id::text as key"],
    ['bool', 'users', 'update users set email_verified = not email_verified where id = (select id from users order by id limit 1) returning id::text as key'],
    ['vector (one component)', 'insights', `update insights set embedding = (
      select array_agg(case when i = 7 then v + 1 else v end order by i)::vector from unnest(embedding::real[]) with ordinality as u(v, i))
    where id = (select id from insights where embedding is not null order by id limit 1) returning id::text as key`],
  ];

  it.each(changes)('one value changed: %s', async (_kind, table, sql) => {
    const { target, key } = await mutated(sql);
    expect(key).toBeDefined();
    const report = await verify(source, target);
    expect(report.ok).toBe(false);
    const bad = report.tables.filter((t) => t.status !== 'identical');
    expect(bad.map((t) => t.table)).toEqual([table]);
    expect(bad[0]!.differences).toEqual({ missing: [], extra: [], changed: [key] });
  });

  it('one row deleted', async () => {
    const { target, key } = await mutated('delete from events where id = (select id from events order by id limit 1) returning id::text as key');
    const report = await verify(source, target);
    const events = report.tables.find((t) => t.table === 'events')!;
    expect(events).toMatchObject({ status: 'different', targetRows: events.sourceRows - 1, differences: { missing: [key], extra: [], changed: [] } });
  });

  it('one row added', async () => {
    const { target, key } = await mutated("insert into events (type, seq, payload, occurred_at) values ('extra', 1, '{}', now()) returning id::text as key");
    const report = await verify(source, target);
    expect(report.tables.find((t) => t.table === 'events')!.differences).toEqual({ missing: [], extra: [key], changed: [] });
  });

  it('a sequence set back below the maximum', async () => {
    const { target } = await mutated("select setval(pg_get_serial_sequence('agent_logs', 'id'), 1) as key");
    const report = await verify(source, target);
    expect(report.ok).toBe(false);
    expect(report.tables.every((t) => t.status === 'identical')).toBe(true);
    expect(report.rules.find((r) => r.rule === 'sequences')).toMatchObject({ ok: false, detail: expect.stringMatching(/agent_logs\.id: the next value 2 is not past the maximum \d+/) });
  });

  it('a row added to a skipped table', async () => {
    const { target } = await mutated("insert into sessions (id, user_id, token, expires_at) select 'ses_new', id, 'tok_new', now() from users limit 1 returning id as key");
    const report = await verify(source, target);
    expect(report.rules.find((r) => r.rule === 'skipped-tables-empty')).toMatchObject({ ok: false, detail: 'sessions has 1 rows' });
  });

});

