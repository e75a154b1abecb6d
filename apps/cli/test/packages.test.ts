import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callTool, ROOT } from './call-tool.js';

interface Package { dir: string; manifest: { name: string } }
const packages = callTool<Package[]>('tools/packages.mjs', 'publishablePackages');
const packedFiles = (dir: string) => callTool<string[]>('tools/packages.mjs', 'packedFiles', dir);
const unwantedFiles = (files: string[]) => callTool<Array<{ file: string; why: string }>>('tools/packages.mjs', 'unwantedFiles', files);

describe('what each publishable package ships (npm pack --dry-run)', () => {
  it('finds every package but the private test harness', () => {
    expect(packages.map((p) => p.dir)).toEqual([
      'packages/advisory-lock', 'packages/connection', 'packages/copy-engine', 'packages/schema', 'packages/seed',
      'packages/tier-detect', 'packages/verify', 'packages/write-freeze', 'apps/cli', 'apps/gateway-plugin',
    ]);
  });

  it.each(packages.map((p) => [p.manifest.name, p.dir]))('%s: no tests, sources, maps or configuration; README, package.json and the build', (_name, dir) => {
    const files = packedFiles(dir);
    expect(unwantedFiles(files)).toEqual([]);
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    expect(files.some((f) => f.startsWith('dist/') && f.endsWith('.js'))).toBe(true);
  });

  it('the rule catches what must not ship, and lets the build through', () => {
    const flagged = unwantedFiles([
      'src/index.ts', 'dist/plan.test.js', 'dist/index.js.map', 'test/helpers.js', 'tsconfig.lib.json',
      'vitest.config.ts', 'test-results/vitest.json', 'dist/index.js', 'dist/index.d.ts', 'drizzle/local/0000_schema_v1.sql', 'bin/mosaic.js',
    ]).map((u) => u.file);
    expect(flagged).toEqual(['src/index.ts', 'dist/plan.test.js', 'dist/index.js.map', 'test/helpers.js', 'tsconfig.lib.json', 'vitest.config.ts', 'test-results/vitest.json']);
  });
});

describe('package.json and README of each publishable package', () => {
  it.each(packages.map((p) => [p.manifest.name, p.dir]))('%s', (_name, dir) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Record<string, unknown> & {
      exports?: Record<string, unknown>; repository?: { directory?: string }; engines?: { node?: string }; bin?: Record<string, string>;
    };
    expect(manifest.type).toBe('module');
    expect(manifest.license).toBe('MIT');
    expect(manifest.engines?.node).toBe('>=20.11');
    expect(manifest.repository?.directory).toBe(dir);
    expect(manifest.files).toEqual(expect.arrayContaining(['dist']));
    expect(manifest.exports).toBeDefined();
    if (manifest.bin) {
      // A command-line package: nothing to import but its package.json (the version).
      expect(manifest.exports).toEqual({ './package.json': './package.json' });
    } else {
      expect(manifest.exports!['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
      expect(manifest.types).toBe('./dist/index.d.ts');
    }
    const readme = readFileSync(join(ROOT, dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/^# @mosaic\//);
    expect(readme, 'an example').toMatch(/^```/m);
    expect(readme, 'an error section').toMatch(/^##+ .*(Error|error)/m);
    expect(existsSync(join(ROOT, dir, 'src/index.ts')) || Boolean(manifest.bin)).toBe(true);
  });
});
