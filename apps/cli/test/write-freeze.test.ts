import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '@mosaic/connection';
import { registerGateway } from '@mosaic/write-freeze';
import { createTestDatabase, tempStorePath, testServer } from '@mosaic/test-harness';
import { catalog, initSeed, query } from './migrate-helpers.js';
import { expectOneCleanLine, finished, runCli, startCli } from './run-cli.js';

// DESIGN 5.10 through the CLI: migrate-tier freezes its source before the snapshot, lifts the
// freeze when it fails or is cancelled, retires the source once verified; unfence rolls back.
// Sources on PostgreSQL 15 (the standalone tier's server) and PGlite, targets on PostgreSQL 17.

const SECRET = 'Fz-s3cret-PW';
/** The target URL with a password (the servers here trust 127.0.0.1, so any password connects). */
const withPassword = (url: string) => {
  const u = new URL(url);
  u.password = SECRET;
  return u.toString();
};
const redacted = (url: string) => url.replace(`:${SECRET}@`, ':***@');

const migrate = (source: string, target: string, ...extra: string[]) =>
  ['storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', ...extra];

const standaloneSource = async (scale = 2) => {
  const url = await createTestDatabase('mosaic_freeze', 'standalone');
  await initSeed(url, 'standalone', scale);
  return url;
};
const federatedTarget = async () => withPassword(await createTestDatabase('mosaic_freeze', 'federated'));

/** One plain SQL write from a session of its own: ok, or the SQLSTATE it was refused with. */
async function plainWrite(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`insert into events (type, seq, payload, occurred_at) values ('plain', 1, '{}', now())`);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await sql.end();
  }
}

/** The same through the project's own connection (PGlite stores have no other sessions). */
async function storeWrite(location: string): Promise<string> {
  const db = await openDatabase(location);
  try {
    await db.exec(`insert into events (type, seq, payload, occurred_at) values ('plain', 1, '{}', now())`);
    return 'ok';
  } catch (error) {
    return (error as { sqlState?: string }).sqlState ?? String(error);
  } finally {
    await db.close();
  }
}

async function stateOf(location: string): Promise<string> {
  const db = await openDatabase(location);
  try {
    const [row] = await db.query<{ state: string }>('select state from mosaic.store_state');
    return row!.state;
  } finally {
    await db.close();
  }
}

const triggers = async (url: string) => (await query<{ n: number }>(url, "select count(*)::int as n from pg_trigger where tgname = 'mosaic_write_freeze'"))[0]!.n;

/**
 * Writers on the source for as long as `until` is pending: several sessions, each committing
 * small write transactions, some of them held open across a pause (so that one is in flight when
 * the freeze starts). Returns the ids of the events whose COMMIT succeeded, and the refusals.
 */
async function writeLoad(url: string, until: Promise<unknown>, sessions = 3): Promise<{ committed: string[]; refused: Map<string, number> }> {
  let done = false;
  void until.finally(() => (done = true));
  const committed: string[] = [];
  const refused = new Map<string, number>();
  const writer = async (n: number) => {
    const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: `writer ${n}` } });
    try {
      for (let i = 0; !done; i++) {
        const ids = [randomUUID(), randomUUID()];
        try {
          await sql.begin(async (tx) => {
            await tx.unsafe(`insert into events (id, type, seq, payload, occurred_at) values ('${ids[0]}', 'load', ${i}, '{}', now())`);
            if (i % 2 === 0) await tx.unsafe('select pg_sleep(0.03)');
            await tx.unsafe(`update events set payload = '{"n": ${i}}' where id = '${ids[0]}'`);
            await tx.unsafe(`insert into events (id, type, seq, payload, occurred_at) values ('${ids[1]}', 'load', ${i}, '{}', now())`);
          });
          committed.push(...ids);
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'other';
          refused.set(code, (refused.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } finally {
      await sql.end();
    }
  };
  await Promise.all(Array.from({ length: sessions }, (_, n) => writer(n + 1)));
  return { committed, refused };
}

const LOOPS = Number(process.env.MOSAIC_FREEZE_LOOPS ?? 2);

describe(`write freeze: PostgreSQL 15 source (${testServer('standalone').name}) -> federated (${testServer('federated').name})`, () => {
  it.each(Array.from({ length: LOOPS }, (_, i) => i + 1))('every write committed while the CLI migrates is in the target; the rest were refused; the source ends retired (round %i)', async () => {
    const source = await standaloneSource(2);
    const target = await federatedTarget();
    const cli = startCli(migrate(source, target, '--batch-size', '200'));
    const exited = finished(cli, ['migrate-tier']);
    const load = await writeLoad(source, exited);
    const result = await exited;
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toMatch(/\[migrate-tier\] Source frozen: it refuses writes until this run ends/);
    // Writes went on after the run (the load stops when the CLI exits): refused as retired.
    expect(await plainWrite(source)).toBe('MOSRT');
    const counts = `${load.committed.length} committed, refused: ${JSON.stringify(Object.fromEntries(load.refused))}`;
    expect(load.committed.length, counts).toBeGreaterThan(0);
    expect(load.refused.get('MOSFZ') ?? 0, counts).toBeGreaterThan(0); // the load ran into the freeze
    expect([...load.refused.keys()].every((code) => code === 'MOSFZ' || code === 'MOSRT' || code === '40P01'), JSON.stringify([...load.refused])).toBe(true);
    const inTarget = new Set((await query<{ id: string }>(target, "select id::text as id from events where type = 'load'")).map((r) => r.id));
    const lost = load.committed.filter((id) => !inTarget.has(id));
    expect(lost, `${lost.length} of ${load.committed.length} committed writes are not in the target`).toEqual([]);
    // And nothing in the source that the target lacks.
    const inSource = (await query<{ id: string }>(source, "select id::text as id from events where type = 'load'")).map((r) => r.id);
    expect(inSource.sort()).toEqual([...inTarget].sort());
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  }, 300_000);

  it('after a verified run the source refuses writes and status shows it retired, naming the redacted target; unfence (with --yes off a terminal) restores writes', async () => {
    const source = await standaloneSource(1);
    const target = await federatedTarget();
    const run = await runCli(migrate(source, target));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`[migrate-tier] Source retired: ${source} refuses writes and new gateways from now on`);
    expect(run.stdout).toContain(`[migrate-tier] Configuration change: MOSAIC_DATABASE_URL=${redacted(target)} (tier federated; put the password back)`);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(await plainWrite(source)).toBe('MOSRT');

    const status = await runCli(['storage', 'status', '--url', source]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^Writes {5}RETIRED at .* by migration run [0-9a-f-]{36}: moved to the federated tier at ${redacted(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; every write is refused`, 'm'));
    expect(status.stdout).not.toContain(SECRET);
    const json = JSON.parse((await runCli(['storage', 'status', '--url', source, '--json'])).stdout) as { writes: { state: string; retired: { location: string } } };
    expect(json.writes).toMatchObject({ state: 'retired', retired: { location: redacted(target) } });

    // A gateway may not start on it.
    const db = await openDatabase(source);
    await expect(registerGateway(db)).rejects.toMatchObject({ code: 'STORE_RETIRED' });
    await db.close();

    const asked = await runCli(['storage', 'unfence', '--url', source]);
    expect(asked.status).toBe(2);
    expect(expectOneCleanLine(asked.stderr, SECRET)).toMatch(/^mosaic: Refusing to unfence without confirmation: .* was retired .*pass --yes/);
    expect(await plainWrite(source)).toBe('MOSRT');
    const unfenced = await runCli(['storage', 'unfence', '--url', source, '--yes']);
    expect(unfenced.status, unfenced.stderr).toBe(0);
    expect(unfenced.stdout).toMatch(/takes writes again: it was retired at .* by migration run /);
    expect(unfenced.stdout).not.toContain(SECRET);
    expect(await plainWrite(source)).toBe('ok');
    expect(await triggers(source)).toBe(0);
    const again = await runCli(['storage', 'unfence', '--url', source, '--json']);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ was: 'open', triggersRemoved: 0 });
  }, 300_000);

  it('a plain SQL writer is refused during the freeze and writes again once Ctrl-C cancels the run', async () => {
    const source = await standaloneSource(20);
    const target = await federatedTarget();
    const cli = startCli(migrate(source, target, '--batch-size', '100', '--jobs', '1'));
    const exited = finished(cli, ['migrate-tier']);
    for (let i = 0; i < 600 && (await query<{ state: string }>(source, 'select state from mosaic.store_state'))[0]!.state !== 'frozen'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await plainWrite(source)).toBe('MOSFZ');
    cli.kill('SIGINT');
    const result = await exited;
    expect(result.status, result.stderr).toBe(130);
    expect(result.stderr).toContain('Freeze lifted: the source');
    expect(await plainWrite(source)).toBe('ok');
    expect(await stateOf(source)).toBe('open');
    expect(await triggers(source)).toBe(0);
  }, 300_000);

  it('kill -9 mid-run leaves the source frozen (fail closed); the re-run takes the freeze over, resumes and retires it', async () => {
    const source = await standaloneSource(2);
    const target = await federatedTarget();
    const crashed = await runCli(migrate(source, target, '--batch-size', '200'), { MOSAIC_FAILPOINT: 'chunk:messages:1' });
    expect(crashed.status, crashed.stderr).toBeNull(); // SIGKILL
    expect(await plainWrite(source)).toBe('MOSFZ');
    expect((await runCli(['storage', 'status', '--url', source])).stdout).toMatch(/^Writes {5}FROZEN by migration run .*; that run is gone/m);
    const rerun = await runCli(migrate(source, target, '--batch-size', '200'));
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/Took over the freeze of run [0-9a-f-]{36} /);
    expect(rerun.stdout).toContain('resuming it');
    expect(await plainWrite(source)).toBe('MOSRT');
  }, 300_000);

  it('a registered gateway that never acknowledges makes the run refuse after the bound, naming it, and lifts the freeze; nothing is written to the target', async () => {
    const source = await standaloneSource(1);
    const target = await federatedTarget();
    const db = await openDatabase(source);
    await registerGateway(db, { gatewayId: 'gw-silent', host: 'gw-host-1', pid: 4242 });
    await db.close();
    const started = Date.now();
    const result = await runCli(migrate(source, target, '--freeze-timeout', '2'));
    expect(result.status, result.stderr).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const last = result.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^mosaic: A live gateway did not acknowledge the freeze of .* within 2 s: gw-silent \(gw-host-1 pid 4242, last heartbeat [\d.]+ s ago\)\. The freeze was lifted/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(await plainWrite(source)).toBe('ok');
    expect(await triggers(source)).toBe(0);
    expect(await query(target, 'select 1 from users limit 1').catch(() => [])).toEqual([]);
  }, 300_000);

  it('--dry-run writes nothing to the source, not even a freeze; --no-verify leaves it frozen, and a verified re-run takes the freeze over and retires it', async () => {
    const source = await standaloneSource(1);
    const target = await federatedTarget();
    const before = await catalog(source);
    const [stateBefore] = await query(source, 'select * from mosaic.store_state');
    const dry = await runCli(migrate(source, target, '--dry-run'));
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stderr).not.toContain('Freezing');
    expect(await catalog(source)).toBe(before);
    expect((await query(source, 'select * from mosaic.store_state'))[0]).toEqual(stateBefore);
    expect(await triggers(source)).toBe(0);

    const unverified = await runCli(migrate(source, target, '--no-verify'));
    expect(unverified.status, unverified.stderr).toBe(0);
    expect(unverified.stderr).toContain('Not verified (--no-verify): the source stays frozen (it refuses writes). To finish, re-run without --no-verify');
    expect(await plainWrite(source)).toBe('MOSFZ');
    const status = await runCli(['storage', 'status', '--url', source]);
    expect(status.stdout).toMatch(/^Writes {5}FROZEN by migration run .*; that run is gone: re-run it, or lift with mosaic storage unfence/m);

    const rerun = await runCli(migrate(source, target));
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/Took over the freeze of run [0-9a-f-]{36} .*which ended without lifting it/);
    expect(rerun.stdout).toContain('[migrate-tier] Source retired:');
    expect(await stateOf(source)).toBe('retired');

    // A converge re-run from the retired store: allowed, it stays retired (and says so in --json).
    const converge = await runCli(migrate(source, target));
    expect(converge.status, converge.stderr).toBe(0);
    expect(converge.stderr).toContain('The source is retired (fenced by an earlier verified run): it already refuses every write');
    const json = await runCli(migrate(source, target, '--json'));
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ mode: 'converge', fence: { state: 'retired', retired: { tier: 'federated', location: redacted(target) }, configuration: { MOSAIC_DATABASE_URL: redacted(target), tier: 'federated' } } });
    expect(json.stdout).not.toContain(SECRET);
    expect(await plainWrite(source)).toBe('MOSRT');
  }, 300_000);
});

describe('write freeze: PGlite source -> federated', () => {
  it('a verified run fences the PGlite store (writes refused, status retired); unfence restores it; a silent gateway makes a run refuse and lift', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const target = await federatedTarget();
    const run = await runCli(migrate(source, target));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Configuration change: MOSAIC_DATABASE_URL=${redacted(target)}`);
    expect(await storeWrite(source)).toBe('MOSRT');
    const status = await runCli(['storage', 'status', '--url', source]);
    expect(status.stdout).toMatch(/^Writes {5}RETIRED at .*: moved to the federated tier at postgresql:\/\/postgres:\*\*\*@/m);
    const unfenced = await runCli(['storage', 'unfence', '--url', source, '--yes']);
    expect(unfenced.status, unfenced.stderr).toBe(0);
    expect(await storeWrite(source)).toBe('ok');

    const db = await openDatabase(source);
    await registerGateway(db, { gatewayId: 'gw-pglite', host: 'gw-host-2', pid: 7 });
    await db.close();
    const second = await federatedTarget();
    const refused = await runCli(migrate(source, second, '--freeze-timeout', '1'));
    expect(refused.status, refused.stderr).toBe(3);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(/^mosaic: A live gateway did not acknowledge the freeze of .* within 1 s: gw-pglite \(gw-host-2 pid 7,/);
    expect(await storeWrite(source)).toBe('ok');
    expect(await stateOf(source)).toBe('open');
  }, 300_000);
});
