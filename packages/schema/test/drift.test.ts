import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TIERS } from '../src/graph.js';

// Regenerates the migrations from the TypeScript schema into a temp dir with the same
// script a developer runs (npm run schema:generate), and compares the SQL byte for byte.
const pkg = join(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'mosaic-drift-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('checked-in SQL migrations', () => {
  it('match what drizzle-kit generates from the TypeScript schema', () => {
    execFileSync(process.execPath, [join(pkg, 'scripts', 'generate.mjs'), '--out', out], { cwd: pkg, stdio: 'pipe' });
    for (const tier of TIERS) {
      const sqlFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
      const checkedIn = join(pkg, 'drizzle', tier);
      expect(sqlFiles(join(out, tier)), `${tier}: migration files`).toEqual(sqlFiles(checkedIn));
      for (const file of sqlFiles(checkedIn)) {
        expect(readFileSync(join(out, tier, file), 'utf8'), `${tier}/${file} differs: run npm run schema:generate`).toBe(readFileSync(join(checkedIn, file), 'utf8'));
      }
    }
  }, 120_000);
});
