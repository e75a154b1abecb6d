#!/usr/bin/env node
// Part of `npm run lint`: packs every publishable package exactly as `npm publish` would, and
// checks the tarball (not the work tree) with
//   - the repository's own rule: no tests, TypeScript sources, source maps or build configuration
//     (tools/packages.mjs);
//   - publint: package.json fields against the packed files (exports, types, bin, engines ...);
//   - Are the Types Wrong (attw): that TypeScript resolves each entry point to the right types.
// attw runs with `--profile esm-only`. The packages are ESM only on purpose ("type": "module",
// exports with `types` + `import` conditions only, Node >= 20.11): a CommonJS `require` of them
// and the pre-exports `node10` resolution are not supported consumers, and that profile skips
// exactly those two resolution modes while keeping node16-from-ESM and bundler strict.
// `--ignore-rules cjs-resolves-to-esm` would be narrower but still grade node10 resolution,
// which ignores `exports` altogether and says nothing about how these packages are used.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { publishablePackages, ROOT, unwantedFiles } from './packages.mjs';

const ATTW = join(ROOT, 'node_modules/.bin/attw');

/** `npm pack` into `dest`; returns the tarball's path and its file list. */
function pack(dir, dest) {
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], {
    cwd: join(ROOT, dir), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [report] = JSON.parse(out);
  return { tarball: join(dest, report.filename), files: report.files.map((f) => f.path) };
}

async function checkPackage({ dir, manifest }, dest) {
  const failures = [];
  const { tarball, files } = pack(dir, dest);
  for (const { file, why } of unwantedFiles(files)) failures.push(`tarball ships ${file}: ${why}`);

  const bytes = readFileSync(tarball);
  // strict: publint's warnings fail the check too; its suggestions are only shown.
  const { messages } = await publint({
    pkgDir: 'package', // where npm puts every file inside its tarball
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    strict: true,
  });
  const notes = [];
  for (const m of messages) {
    const line = `publint ${m.type}: ${formatMessage(m, manifest, { color: false })}`;
    if (m.type === 'suggestion') notes.push(line);
    else failures.push(line);
  }

  const attw = spawnSync(ATTW, [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color', '--no-emoji'], { encoding: 'utf8' });
  if (attw.status !== 0) failures.push(`attw:\n${(attw.stdout + attw.stderr).trim()}`);
  return { failures, notes, count: files.length };
}

const dest = mkdtempSync(join(tmpdir(), 'mosaic-publish-check-'));
let failed = 0;
try {
  for (const pkg of publishablePackages()) {
    const { failures, notes, count } = await checkPackage(pkg, dest);
    const verdict = failures.length === 0 ? 'ok' : 'FAILED';
    console.log(`publish-check: ${pkg.manifest.name}: ${count} files; tarball rules, publint, attw (esm-only): ${verdict}`);
    for (const line of [...failures, ...notes]) console.log(`  ${line.replace(/\n/g, '\n  ')}`);
    if (failures.length > 0) failed += 1;
  }
} finally {
  rmSync(dest, { recursive: true, force: true });
}
if (failed > 0) console.log(`publish-check: ${failed} package(s) would not publish cleanly`);
process.exitCode = failed > 0 ? 1 : 0;
