import { afterEach, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { openDatabase, parseLocation } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { applyMigrations } from '@mosaic/schema';
import { createTestDatabase, tempStorePath, testServer } from '@mosaic/test-harness';
import { ackFreeze, freezeStore, heartbeat, registerGateway, storeState, unfence, WriteFreezeError } from '../src/index.js';

// One suite per engine: a PostgreSQL 15 store (the standalone tier's server) and a PGlite store.
const TARGET = parseLocation('postgresql://mosaic:s3cret-pw@db.example:5433/mosaic');
const open: Database[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

interface Store {
  db: Database;
  /** A plain SQL write from another session (PostgreSQL) or the store's one session (PGlite). */
  write(sql: string): Promise<void>;
}

const engines = [
  {
    name: 'PostgreSQL 15',
    async make(): Promise<Store> {
      const url = await createTestDatabase('mosaic_freeze', 'standalone');
      const db = await openDatabase(url, { applicationName: 'freeze test' });
      open.push(db);
      await applyMigrations(db, 'standalone');
      return {
        db,
        async write(text) {
          const sql = postgres(url, { max: 1, onnotice: () => {} });
          try {
            await sql.unsafe(text);
          } finally {
            await sql.end();
          }
        },
      };
    },
  },
  {
    name: 'PGlite',
    async make(): Promise<Store> {
      const db = await openDatabase(tempStorePath(), { create: true });
      open.push(db);
      await applyMigrations(db, 'local');
      return { db, write: (text) => db.exec(text) };
    },
  },
];

const insertUser = (id: string) => `insert into users (id, email, name) values ('${id}', '${id}@example.com', '${id}')`;
const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as { sqlState?: string; message: string };
  }
  throw new Error('the write was not refused');
};

describe.each(engines)('write freeze on a $name store', ({ make }) => {
  it('refuses every kind of write while frozen, naming the run; a lift lets writes in again and leaves no trigger behind', async () => {
    const { db, write } = await make();
    await write(insertUser('before'));
    const freeze = await freezeStore(db, { runId: 'run-1', by: 'test' });
    for (const sql of [insertUser('during'), "update users set name = 'x'", 'delete from users', 'truncate users cascade']) {
      const e = await refusal(write(sql));
      expect(e.sqlState ?? (e as { code?: string }).code, sql).toBe('MOSFZ');
      expect(e.message).toMatch(/Mosaic store frozen for migration run run-1 \(by test, since /);
    }
    expect((await storeState(db)).state).toBe('frozen');
    expect((await storeState(db)).triggers).toEqual({ enabled: 22, disabled: 0, missing: 0 });
    expect(await freeze.lift()).toEqual({ lifted: true, triggersDropped: true });
    await write(insertUser('after'));
    const state = await storeState(db);
    expect(state).toMatchObject({ state: 'open', freeze: null, triggers: { enabled: 0, disabled: 0, missing: 22 } });
    expect((await db.query<{ id: string }>('select id from users order by id')).map((r) => r.id)).toEqual(['after', 'before']);
  });

  it('a retired store refuses writes and new gateways for good, naming the new store (redacted); unfence restores it', async () => {
    const { db, write } = await make();
    const freeze = await freezeStore(db, { runId: 'run-2' });
    const retired = await freeze.retire({ tier: 'federated', location: TARGET });
    expect(retired).toMatchObject({ runId: 'run-2', tier: 'federated', location: 'postgresql://mosaic:***@db.example:5433/mosaic', cutover: null });
    expect(await freeze.lift()).toEqual({ lifted: false, triggersDropped: false }); // a lift after retire changes nothing
    const e = await refusal(write(insertUser('late')));
    expect(e.sqlState ?? (e as { code?: string }).code).toBe('MOSRT');
    expect(e.message).toContain('moved to the federated tier at postgresql://mosaic:***@db.example:5433/mosaic');
    expect(e.message).not.toContain('s3cret');
    await expect(registerGateway(db, { gatewayId: 'gw-new' })).rejects.toMatchObject({ code: 'STORE_RETIRED', message: expect.stringContaining('postgresql://mosaic:***@db.example:5433/mosaic') });
    expect(await storeState(db)).toMatchObject({ state: 'retired', retired: { runId: 'run-2', tier: 'federated' } });

    // A converge re-run from the retired store: it stays retired whether the run fails or succeeds.
    const again = await freezeStore(db, { runId: 'run-3' });
    expect(again.alreadyRetired).toBe(true);
    await again.lift();
    expect((await storeState(db)).state).toBe('retired');
    const third = await freezeStore(db, { runId: 'run-4' });
    // The cutover a retiring run chose is recorded for every gateway to read.
    expect(await third.retire({ tier: 'standalone', location: TARGET, cutover: 'live' })).toMatchObject({ runId: 'run-4', tier: 'standalone', cutover: 'live' });
    expect((await storeState(db)).retired).toMatchObject({ runId: 'run-4', cutover: 'live' });

    expect(await unfence(db)).toMatchObject({ was: 'retired', triggersRemoved: 22 });
    await write(insertUser('rolled-back'));
    expect((await storeState(db)).state).toBe('open');
    expect(await unfence(db)).toMatchObject({ was: 'open', triggersRemoved: 0 });
  });

  it('waits for live gateways to acknowledge; a silent one makes it refuse after the bound, naming it, and lifts the freeze; a stale one is not waited for', async () => {
    const { db, write } = await make();
    await registerGateway(db, { gatewayId: 'gw-silent', host: 'host-a', pid: 101 });
    await registerGateway(db, { gatewayId: 'gw-dead', host: 'host-b', pid: 102 });
    await db.query("update mosaic.gateways set heartbeat_at = now() - interval '1 hour' where gateway_id = 'gw-dead'");
    const waits: string[][] = [];
    const started = Date.now();
    const error = await freezeStore(db, { runId: 'run-5', ackTimeoutMs: 1200, reportEveryMs: 300, onWaiting: (w) => waits.push(w.silent.map((g) => g.gatewayId)) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteFreezeError);
    expect(error).toMatchObject({ code: 'FREEZE_ACK_TIMEOUT' });
    expect((error as Error).message).toMatch(/^A live gateway did not acknowledge the freeze of .* within 1 s: gw-silent \(host-a pid 101, last heartbeat [\d.]+ s ago\)\. The freeze was lifted/);
    expect((error as Error).message).not.toContain('gw-dead');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((w) => w.join() === 'gw-silent')).toBe(true);
    await write(insertUser('after-timeout'));
    expect((await storeState(db)).state).toBe('open');

    // A gateway that hears the freeze (here by polling its heartbeat) and acknowledges it.
    const acking = (async () => {
      for (;;) {
        const view = await heartbeat(db, 'gw-silent');
        if (view.freezeId) return ackFreeze(db, 'gw-silent', view.freezeId);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const freeze = await freezeStore(db, { runId: 'run-6', ackTimeoutMs: 10_000 });
    await acking;
    expect(freeze.acknowledged.map((g) => g.gatewayId)).toEqual(['gw-silent']);
    expect((await storeState(db)).gateways.map((g) => [g.gatewayId, g.live, g.ackedFreezeId === freeze.freezeId])).toEqual([['gw-silent', true, true], ['gw-dead', false, false]]);
    await freeze.lift();
  });
});

describe('write freeze on PostgreSQL: other sessions', () => {
  const server = testServer('standalone');
  async function store(): Promise<{ url: string; db: Database }> {
    const url = await createTestDatabase('mosaic_freeze', server);
    const db = await openDatabase(url, { applicationName: 'freeze test' });
    open.push(db);
    await applyMigrations(db, 'standalone');
    return { url, db };
  }

  it('waits for a write transaction in flight, which commits before the freeze; past the bound it refuses naming the writer and changes nothing', async () => {
    const { url, db } = await store();
    const writer = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'slow writer' } });
    try {
      // In flight: it wrote, and has not committed when the freeze starts.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const tx = writer.begin(async (sql) => {
        await sql.unsafe(insertUser('in-flight'));
        await held;
      });
      await new Promise((r) => setTimeout(r, 200));
      const blocked = await freezeStore(db, { runId: 'run-b', lockTimeoutMs: 800 }).catch((e: unknown) => e);
      expect(blocked).toMatchObject({ code: 'FREEZE_BLOCKED' });
      expect((blocked as Error).message).toMatch(/within 1 s: write transactions still hold its tables: pid \d+ \(slow writer, idle in transaction since /);
      expect(await storeState(db)).toMatchObject({ state: 'open', triggers: { enabled: 0, disabled: 0 } });

      const freezing = freezeStore(db, { runId: 'run-c', lockTimeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 300));
      release();
      await tx;
      const freeze = await freezing;
      expect(await db.query('select id from users')).toEqual([{ id: 'in-flight' }]); // committed before the freeze
      await freeze.lift();
    } finally {
      await writer.end();
    }
  });

  it('refuses a REPEATABLE READ writer whose snapshot predates the freeze', async () => {
    const { url, db } = await store();
    const writer = postgres(url, { max: 1, onnotice: () => {} });
    try {
      let go!: () => void;
      const ready = new Promise<void>((r) => (go = r));
      let started!: () => void;
      const snapshotTaken = new Promise<void>((r) => (started = r));
      const tx = writer.begin('isolation level repeatable read', async (sql) => {
        await sql.unsafe('select count(*) from mosaic.store_state');
        started();
        await ready;
        await sql.unsafe(insertUser('old-snapshot'));
      }).catch((e: unknown) => e);
      await snapshotTaken;
      const freeze = await freezeStore(db, { runId: 'run-rr' });
      go();
      expect(await tx).toMatchObject({ code: 'MOSFZ' });
      expect(await db.query('select id from users')).toEqual([]);
      await freeze.lift();
    } finally {
      await writer.end();
    }
  });

  it('a live run\'s freeze is refused to a second run and to unfence; a freeze whose run died is taken over', async () => {
    const { url, db } = await store();
    const other = await openDatabase(url, { applicationName: 'first run' });
    const first = await freezeStore(other, { runId: 'run-first', by: 'first' });
    await expect(freezeStore(db, { runId: 'run-second' })).rejects.toMatchObject({ code: 'STORE_FROZEN', message: expect.stringMatching(/frozen by a migration that is still running \(run run-first, by first, since .*\), held by pid \d+, first run/) });
    await expect(unfence(db)).rejects.toMatchObject({ code: 'STORE_FROZEN' });
    expect((await storeState(db)).holderAlive).toBe(true);
    // The first run dies without lifting: its sessions (and the holder lock) end, the freeze stays.
    await db.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'first run'");
    await other.close().catch(() => {});
    for (let i = 0; i < 50 && (await storeState(db)).holderAlive; i++) await new Promise((r) => setTimeout(r, 100)); // the server ends the backend a moment later
    expect(await storeState(db)).toMatchObject({ state: 'frozen', holderAlive: false, freeze: { runId: 'run-first' } });
    const second = await freezeStore(db, { runId: 'run-second' });
    expect(second.tookOver).toMatchObject({ runId: 'run-first', freezeId: first.freezeId });
    await second.lift();
    expect((await storeState(db)).state).toBe('open');
  });

  it('with holderWait, a second run waits for the first run\'s freeze to end (bounded, reporting the holder), then freezes', async () => {
    const { url, db } = await store();
    const other = await openDatabase(url, { applicationName: 'first run' });
    try {
      const first = await freezeStore(other, { runId: 'run-first', by: 'first' });
      await expect(freezeStore(db, { runId: 'run-second', holderWait: { timeoutMs: 500 } })).rejects.toMatchObject({ code: 'STORE_FROZEN', message: expect.stringMatching(/^Gave up after 0\.5 s: .* is frozen by a migration that is still running \(run run-first/) });
      const waits: string[] = [];
      const second = freezeStore(db, { runId: 'run-second', holderWait: { onWait: (w) => waits.push(`${w.run?.runId} ${w.holder}`) } });
      await new Promise((r) => setTimeout(r, 500));
      await first.retire({ tier: 'federated', location: TARGET });
      const after = await second;
      expect(after.alreadyRetired).toBe(true);
      expect(waits[0]).toMatch(/^run-first pid \d+, first run/);
      await after.lift();
      expect((await storeState(db)).state).toBe('retired');
    } finally {
      await other.close();
    }
  });

  it('refuses a role that does not own the tables (FREEZE_NOT_PERMITTED), changing nothing', async () => {
    const { url, db } = await store();
    const role = `mosaic_app_${Math.random().toString(36).slice(2, 8)}`;
    await db.exec(`create role ${role} login; grant usage on schema public, mosaic to ${role};
      grant select, insert, update, delete on all tables in schema public, mosaic to ${role}; grant create on schema mosaic to ${role}`);
    const app = await openDatabase(Object.assign(new URL(url), { username: role }).toString());
    try {
      await expect(freezeStore(app, { runId: 'run-app' })).rejects.toMatchObject({ code: 'FREEZE_NOT_PERMITTED', message: expect.stringContaining('the role that owns them') });
      expect(await storeState(db)).toMatchObject({ state: 'open', triggers: { enabled: 0 } });
    } finally {
      await app.close();
    }
  });
});
