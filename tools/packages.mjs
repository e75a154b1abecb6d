// The publishable packages of this repository and what their npm tarballs hold. Shared by the
// publish check (npm run lint), the docs generator (docs/packages.md) and a test.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

/** Every workspace under packages/ and apps/ that is not private, in a stable order. */
export function publishablePackages(root = ROOT) {
  return ['packages', 'apps']
    .flatMap((group) => readdirSync(join(root, group)).sort().map((name) => `${group}/${name}`))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);
}

/** The files `npm pack` would put in the tarball (paths relative to the package). */
export function packedFiles(dir, root = ROOT) {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: join(root, dir), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [report] = JSON.parse(out);
  return report.files.map((f) => f.path).sort();
}

/**
 * What a user of the package never needs: tests and their fixtures, TypeScript sources
 * (the .d.ts files are the types), source maps (their sources are not shipped either),
 * build and test configuration, local results. Each rule names why a file is unwanted.
 */
export const UNWANTED = [
  [/(^|\/)(test|tests|__tests__|test-results|coverage)\//, 'test files or results'],
  [/\.(test|spec)\.[cm]?[jt]sx?$/, 'a test file'],
  [/(?<!\.d)\.[cm]?tsx?$/, 'TypeScript source (ship dist/*.js and .d.ts)'],
  [/\.map$/, 'a source map (the sources it points to are not shipped)'],
  [/(^|\/)(tsconfig[^/]*\.json|vitest\.config\.[cm]?[jt]s|\.eslintrc[^/]*|eslint\.config\.[cm]?js)$/, 'build or test configuration'],
  [/(^|\/)src\//, 'the src/ directory'],
  [/\.tgz$/, 'a packed tarball'],
];

/** `[{ file, why }]` for every unwanted file of a listing. */
export function unwantedFiles(files) {
  return files.flatMap((file) => {
    const rule = UNWANTED.find(([pattern]) => pattern.test(file));
    return rule ? [{ file, why: rule[1] }] : [];
  });
}
