import { describe, expect, it } from 'vitest';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { initSeed, query } from './migrate-helpers.js';
import { expectOneCleanLine, runCli } from './run-cli.js';

describe('mosaic storage verify', () => {
  it('identical after migrate-tier; exit 4 with the table and key after a change; a re-run refuses to overwrite it, and converges with --overwrite-target-changes', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 2);
    const target = await createTestDatabase();
    const migrated = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', target, '--yes', '--no-verify']);
    expect(migrated.status, migrated.stderr).toBe(0);

    const clean = await runCli(['storage', 'verify', '--source', source, '--target-url', target]);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^messages\s+\d+\s+\d+\s+match\s+identical$/m);
    expect(clean.stdout).toMatch(/^\[verify\] Verified: 19 tables, \d+ rows identical/m);

    const [changed] = await query<{ id: string }>(target, "update tasks set title = title || ' (edited)' where id = (select id from tasks order by id limit 1) returning id::text");
    const dirty = await runCli(['storage', 'verify', '--source', source, '--target-url', target]);
    expect(dirty.status).toBe(4);
    expect(dirty.stdout).toMatch(/^tasks\s+\d+\s+\d+\s+differ\s+different$/m);
    expect(dirty.stdout).toContain(`  tasks: different rows: ${changed!.id}`);
    expect(expectOneCleanLine(dirty.stderr)).toMatch(/^mosaic: Verification found differences \(tables tasks\)/);

    const json = await runCli(['storage', 'verify', '--source', source, '--target-url', target, '--json']);
    expect(json.status).toBe(4);
    const report = JSON.parse(json.stdout) as { ok: boolean; tables: Array<{ table: string; differences: { changed: string[] } }> };
    expect(report.ok).toBe(false);
    expect(report.tables.find((t) => t.table === 'tasks')!.differences.changed).toEqual([changed!.id]);

    // The change was made in the target itself: a plain re-run refuses to overwrite it.
    const refused = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', target, '--yes']);
    expect(refused.status, refused.stderr).toBe(3);
    expect(expectOneCleanLine(refused.stderr)).toMatch(/written since the migration from this source finished: tasks \(about 1 row\)/);
    const rerun = await runCli(['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', target, '--yes', '--overwrite-target-changes']);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('re-running converges it (deletes, then upserts) ✓');
    expect(rerun.stdout).toMatch(/Verified: 19 tables/);
  }, 180_000); // six runs of the CLI on a PGlite store: more than the default minute on a loaded machine

  it('a target that was never migrated into: exit 3, one line', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 1);
    const result = await runCli(['storage', 'verify', '--source', source, '--target-url', await createTestDatabase()]);
    expect(expectOneCleanLine(result.stderr)).toMatch(/has no Mosaic schema: it was never migrated into/);
    expect(result.status).toBe(3);
  });
});
