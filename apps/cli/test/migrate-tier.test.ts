import { describe, expect, it } from 'vitest';
import { createTestDatabase, tempStorePath, testServer } from '@mosaic/test-harness';
import { catalog, COPIED, expectMigrated, initSeed, query } from './migrate-helpers.js';
import { expectOneCleanLine, runCli } from './run-cli.js';

const migrate = (source: string, target: string, to: string, ...extra: string[]) =>
  runCli(['storage', 'migrate-tier', '--source', source, '--to', to, '--target-url', target, ...extra]);

/** A database owned by an ordinary role (as operators have), vector installed by a superuser. */
async function ownedByOrdinaryRole(withVector: boolean): Promise<string> {
  const url = await createTestDatabase('mosaic_test', withVector ? 'federated' : 'standalone');
  const role = `mosaic_owner_${Math.random().toString(36).slice(2, 8)}`;
  const db = new URL(url).pathname.slice(1);
  await query(url, `create role ${role} login`);
  await query(url, `alter database "${db}" owner to ${role}`);
  await query(url, `alter schema public owner to ${role}`);
  if (withVector) await query(url, 'create extension vector');
  const u = new URL(url);
  u.username = role;
  return u.toString();
}

// The directions an operator takes, each on the server its tier runs on here: PostgreSQL 17 +
// pgvector for the federated tier, PostgreSQL 15 for standalone (MOSAIC_TEST_SERVERS; a run
// with one server selected runs them all on it).
const server = (role: 'federated' | 'standalone') => testServer(role).name;

/** Every copied table has statistics taken by the run (each table analyzed once its indexes are built, or at the end). */
async function expectAnalyzed(target: string): Promise<void> {
  const read = () => query<{ relname: string; analyzed: boolean }>(target,
    `select relname, last_analyze is not null as analyzed from pg_stat_user_tables where schemaname = 'public' and relname = any('{${COPIED.join(',')}}'::text[])`);
  // A backend's statistics reach the shared view as it exits, just after the CLI does: a few tries.
  let rows = await read();
  for (let i = 0; i < 25 && rows.some((r) => !r.analyzed); i++) {
    await new Promise((r) => setTimeout(r, 200));
    rows = await read();
  }
  expect(rows.map((r) => r.relname).sort()).toEqual([...COPIED].sort());
  expect(rows.filter((r) => !r.analyzed).map((r) => r.relname)).toEqual([]);
}

describe('migrate-tier: every direction ends identical to the source', () => {
  it(`local (PGlite) -> standalone (${server('standalone')})`, async () => {
    const source = tempStorePath();
    await initSeed(source, 'local');
    const target = await createTestDatabase('mosaic_test', 'standalone');
    const result = await migrate(source, target, 'standalone', '--yes');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('[migrate-tier] Analyzing source tier: pglite');
    expect(result.stdout).toContain('[migrate-tier] Precondition: target is empty ✓');
    expect(result.stdout).toMatch(/MIGRATION COMPLETE\. \d+ rows in [\d.]+ s \(\d+ rows\/s\)/);
    expect(result.stdout).toMatch(/^\[migrate-tier\] Verified: 19 tables, \d+ rows identical/m);
    await expectMigrated(source, target, false);
    await expectAnalyzed(target);
  });

  it(`local (PGlite) -> federated (${server('federated')}), into a database owned by an ordinary role`, async () => {
    const source = tempStorePath();
    await initSeed(source, 'local');
    const target = await ownedByOrdinaryRole(true);
    const result = await migrate(source, target, 'federated', '--yes');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('[migrate-tier] NOTE: Source tier has no pgvector support. insights.embedding will be NULL on all migrated rows.');
    await expectMigrated(source, target, false);
  });

  it(`standalone (${server('standalone')}) -> federated (${server('federated')})`, async () => {
    const source = await createTestDatabase('mosaic_test', 'standalone');
    await initSeed(source, 'standalone');
    const target = await createTestDatabase('mosaic_test', 'federated');
    const result = await migrate(source, target, 'federated', '--yes', '--batch-size', '500', '--no-verify');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('Verified:');
    expect(result.stdout).toContain('[migrate-tier] Analyzing source tier: postgres (standalone)');
    await expectMigrated(source, target, false);
    await expectAnalyzed(target);
  });

  it(`standalone (${server('standalone')}) -> standalone (${server('standalone')})`, async () => {
    const source = await createTestDatabase('mosaic_test', 'standalone');
    await initSeed(source, 'standalone');
    const target = await createTestDatabase('mosaic_test', 'standalone');
    const result = await migrate(source, target, 'standalone', '--yes');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\[migrate-tier\] Verified: 19 tables, \d+ rows identical/m);
    await expectMigrated(source, target, false);
  });

  it(`federated (${server('federated')}) -> federated (${server('federated')}), embeddings copied exactly`, async () => {
    const source = await createTestDatabase('mosaic_test', 'federated');
    await initSeed(source, 'federated');
    const target = await createTestDatabase('mosaic_test', 'federated');
    const result = await migrate(source, target, 'federated', '--yes', '--jobs', '4');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('NOTE: Source tier has no pgvector');
    await expectMigrated(source, target, true);
    const [row] = await query<{ n: number }>(target, 'select count(*)::int as n from insights where embedding is not null');
    expect(row!.n).toBeGreaterThan(0);
  });
});

describe('migrate-tier writes nothing until told to', () => {
  it('--dry-run prints the plan and leaves the target catalog exactly as it was', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 2);
    const target = await createTestDatabase();
    const before = await catalog(target);
    const result = await migrate(source, target, 'federated', '--dry-run');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\[migrate-tier\] Analyzing source tier: pglite\n\[migrate-tier\] Analyzing target tier: empty \(becomes federated\)$/m);
    expect(result.stdout).toMatch(/^\[migrate-tier\] Plan \(\d+ jobs?\): foreign keys and secondary indexes off during the load, built and validated after$/m);
    expect(result.stdout).toMatch(/^ {2}users: \d+ rows: fresh load in heap-page chunks of about \d+ rows$/m);
    expect(result.stdout).toMatch(/^ {2}sessions: skipped \(\d+ rows\): TTL-bound/m);
    expect(result.stdout).toMatch(/\[migrate-tier\] DRY-RUN COMPLETE \(no data written\)\. \d+ total rows would be migrated\.$/m);
    expect(await catalog(target)).toBe(before);
  });

  it('--dry-run --json prints one JSON document and nothing else on stdout', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const result = await migrate(source, await createTestDatabase(), 'federated', '--dry-run', '--json');
    expect(result.status).toBe(0);
    const doc = JSON.parse(result.stdout) as { dryRun: boolean; totalRows: number; relax: boolean; tables: Array<{ table: string; strategy: unknown; relaxed: boolean; recheck: string }> };
    expect(doc.dryRun).toBe(true);
    expect(doc.tables).toHaveLength(19);
    expect(doc.relax).toBe(true);
    expect(doc.tables[0]).toMatchObject({ table: 'users', strategy: { kind: 'fresh', chunks: 'pages' }, relaxed: true, recheck: 'none' });
  });

  it('without --yes on a non-TTY: exit 2, nothing written', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const target = await createTestDatabase();
    const before = await catalog(target);
    const result = await migrate(source, target, 'federated');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^mosaic: Refusing to write without confirmation: pass --yes/m);
    expect(await catalog(target)).toBe(before);
  });

  it("on a TTY answering 'n': nothing written", async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const target = await createTestDatabase();
    const before = await catalog(target);
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('./run-cli.js');
    // script(1) gives the command a pseudo-terminal; 'n' is typed at the prompt.
    const command = [process.execPath, BIN, 'storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target].map((a) => `'${a}'`).join(' ');
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { input: 'n\n', encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
    expect(run.stdout).toContain('[y/N]');
    expect(run.stdout).toContain('Cancelled. Nothing was written.');
    expect(run.status).toBe(2);
    expect(await catalog(target)).toBe(before);
  });
});

describe('migrate-tier progress on a terminal', () => {
  it('draws a bar for all tables (rows, MB, rate, ETA) above the per-table bars', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('./run-cli.js');
    // script(1) gives the command a pseudo-terminal: stderr is a TTY, so cli-progress draws.
    const command = [process.execPath, BIN, 'storage', 'migrate-tier', '--source', source, '--to', 'federated', '--target-url', target, '--yes', '--batch-size', '200', '--no-verify'].map((a) => `'${a}'`).join(' ');
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
    expect(run.status, run.stdout).toBe(0);
    const frames = run.stdout.split(/\r|\n|\u001b\[[0-9;]*[A-Za-z]/).filter((l) => l.trim() !== '');
    const overall = frames.filter((l) => /^ all tables +\[.*\] +\d+% \| \d+\/\d+ rows \| [\d.]+ MB \| \d+ rows\/s \| ETA /.test(l));
    expect(overall.length, run.stdout.slice(0, 2000)).toBeGreaterThan(0);
    // The overall bar's total is every row the run moves (4,939 at scale 5 with the skipped tables left out).
    expect(overall.at(-1)).toMatch(/\/4939 rows/);
    // Per-table bars too, drawn after (below) the overall one in each frame.
    const at = (re: RegExp) => frames.findIndex((l) => re.test(l));
    expect(at(/^ all tables +\[/)).toBeGreaterThanOrEqual(0);
    expect(at(/^ messages +\[/)).toBeGreaterThan(at(/^ all tables +\[/));
    expect(run.stdout).toContain('MIGRATION COMPLETE. 4939 rows');
  });
});

describe('migrate-tier refusals: exit 3 and the reason, before anything is written', () => {
  it('a target holding another source\'s data', async () => {
    const a = tempStorePath();
    await initSeed(a, 'local', 1, 1);
    const b = tempStorePath();
    await initSeed(b, 'local', 1, 2);
    const target = await createTestDatabase();
    expect((await migrate(a, target, 'standalone', '--yes')).status).toBe(0);
    const before = await catalog(target);
    const counts = await query(target, 'select count(*)::int as n from messages');
    const result = await migrate(b, target, 'standalone', '--yes');
    expect(result.status).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toMatch(/already holds \d+ Mosaic rows \(migrated from .*\), not from this source: migrate into an empty database/);
    expect(await catalog(target)).toBe(before);
    expect(await query(target, 'select count(*)::int as n from messages')).toEqual(counts);
  });

  it('a role that may not CREATE EXTENSION vector: the one SQL line a superuser must run', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const target = await ownedByOrdinaryRole(false);
    const before = await catalog(target);
    const result = await migrate(source, target, 'federated', '--yes');
    expect(result.status).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toMatch(/a superuser must run, in that database: CREATE EXTENSION IF NOT EXISTS vector;$/);
    expect(await catalog(target)).toBe(before);
  });

  it('a downgrade that would drop embeddings', async () => {
    const source = await createTestDatabase();
    await initSeed(source, 'federated', 1);
    const target = await createTestDatabase();
    const result = await migrate(source, target, 'standalone', '--yes');
    expect(result.status).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toMatch(/holds \d+ embeddings, and --to standalone has no vector column: they would be lost/);
  });

  it('bad flags are usage errors (exit 2)', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const target = await createTestDatabase();
    for (const [extra, message] of [
      [['--to', 'local'], /Invalid values/],
      [['--to', 'federated', '--batch-size', '0'], /--batch-size must be a whole number of at least 1/],
      [['--to', 'federated', '--jobs', 'many'], /^mosaic: --jobs must be a number \(got "many"\)/],
      [['--to', 'federated', '--jobs', '0'], /--jobs must be a whole number from 1 to 32 \(got 0\)/],
      [['--to', 'federated', '--lock-timeout=soon'], /^mosaic: --lock-timeout must be a number \(got "soon"\)/],
    ] as const) {
      const result = await runCli(['storage', 'migrate-tier', '--source', source, '--target-url', target, ...extra, '--yes']);
      expect(result.status, result.stderr).toBe(2);
      expect(expectOneCleanLine(result.stderr)).toMatch(message);
    }
    const toDir = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', tempStorePath(), '--yes']);
    expect(expectOneCleanLine(toDir.stderr)).toMatch(/--target-url must be a postgresql:\/\/ URL/);
    expect(toDir.status).toBe(2);
  });
});
