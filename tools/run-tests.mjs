#!/usr/bin/env node
// `npm test`: build and typecheck, lint, then test every project through Nx, then one closing line
// that adds up every vitest run: "tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const projects = ['packages', 'apps'].flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p)));
const resultFile = (dir) => join(dir, 'test-results', 'vitest.json');
for (const dir of projects) rmSync(resultFile(dir), { force: true });

function step(args) {
  const run = spawnSync(args[0], args.slice(1), { cwd: root, env, stdio: 'inherit' });
  return run.status ?? 1;
}

// Build first: it leaves Nx's project graph cached, which eslint's module-boundary rule needs
// (on a fresh clone without it, the rule is silently skipped).
let status = step(['npx', 'nx', 'run-many', '-t', 'build', 'typecheck', '--outputStyle=static']);
// npm run lint: eslint, then the publish check of every package's tarball (tools/publish-check.mjs).
if (status === 0) status = step(['npm', 'run', '--silent', 'lint']);
if (status === 0) status = step(['npx', 'nx', 'run-many', '-t', 'test', '--outputStyle=static', '--parallel=1', ...process.argv.slice(2)]);

let passed = 0;
let failed = 0;
let skipped = 0;
for (const dir of projects) {
  if (!existsSync(resultFile(dir))) continue;
  const report = JSON.parse(readFileSync(resultFile(dir), 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (status === 0 && (failed > 0 || passed === 0)) status = 1;
process.exit(status);
