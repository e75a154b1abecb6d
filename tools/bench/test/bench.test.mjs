import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testServer } from '@mosaic/test-harness';

const BENCH = fileURLToPath(new URL('../src/bench.mjs', import.meta.url));
const bench = (args) => spawnSync(process.execPath, [BENCH, ...args], {
  // The baselines run this machine's pg_dump (15): the bench runs on the PostgreSQL 15 server.
  encoding: 'utf8', env: { ...process.env, MOSAIC_BENCH_DATABASE_URL: testServer('standalone').adminUrl }, timeout: 280_000,
});

describe('npm run bench (a small scale, once: that it measures every method and writes its results)', () => {
  it('times every method against the baselines, writes JSON and an SVG chart', () => {
    const out = mkdtempSync(join(tmpdir(), 'mosaic-bench-out-'));
    const run = bench(['--scales', '2,3', '--reps', '1', '--out', out, '--fresh']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/pg_dump \| psql \(A\)\s+[\d,]+\s+[\d.]+/);
    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('.json'));
    const svg = files.find((f) => f.endsWith('.svg'));
    const doc = JSON.parse(readFileSync(join(out, json), 'utf8'));
    expect(doc.results.map((r) => r.scale)).toEqual([2, 3]);
    for (const result of doc.results) {
      expect(result.methods.map((m) => m.key)).toEqual([
        'pg_dump', 'psql_copy', 'migrate_pg', 'rerun', 'converge_1pct', 'verify', 'pg_dump_std', 'psql_copy_std', 'migrate_pg_std', 'migrate_pglite', 'pg_dump_insights', 'migrate_insights',
        'pg_dump_wan', 'migrate_wan',
      ]);
      expect(result.methods.find((m) => m.key === 'migrate_wan').vsA).toBeGreaterThan(0);
      expect(result.methods.find((m) => m.key === 'converge_1pct').vsA).toBeGreaterThan(0);
      for (const m of result.methods) {
        expect(m.seconds, m.key).toBeGreaterThan(0);
        expect(m.rows, m.key).toBeGreaterThan(0);
      }
      expect(result.methods.find((m) => m.key === 'migrate_pg').vsA).toBeGreaterThan(0);
      expect(result.methods.find((m) => m.key === 'migrate_pg').vsB).toBeGreaterThan(0);
      expect(result.methods.find((m) => m.key === 'migrate_pg').peakRssMb).toBeGreaterThan(20); // a node process was really sampled
      // Without vectors, against A' and B' (the psql COPY floor of the same rows).
      for (const key of ['migrate_pg_std', 'migrate_pglite']) {
        const m = result.methods.find((x) => x.key === key);
        expect(m.vsA, key).toBeCloseTo(m.seconds / result.methods.find((x) => x.key === 'pg_dump_std').seconds, 6);
        expect(m.vsB, key).toBeCloseTo(m.seconds / result.methods.find((x) => x.key === 'psql_copy_std').seconds, 6);
      }
    }
    expect(doc.machine.server).toMatch(/PostgreSQL/);
    expect(doc.targets.length).toBeGreaterThan(4);
    const chart = readFileSync(join(out, svg), 'utf8');
    expect(chart).toMatch(/^<svg /);
    expect(chart).toContain('migrate-tier PGlite -&gt; PG');
    expect(chart).toContain('Time against rows');
    expect(chart).toContain('Peak RSS of the client against rows');
    expect(doc.targets.find((t) => t.name.startsWith('PGlite -> PG')).limit).toBe(1.0);
  });

  it('a bad flag is one line and exit 2', () => {
    const run = bench(['--scale', 'zero']);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('--scale must be a whole number of at least 1, got "zero"');
  });
});
