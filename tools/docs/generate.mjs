#!/usr/bin/env node
// `npm run docs:generate`: rewrites the generated sections of the operator documents from the
// code and from real runs of the built CLI. `--check` writes nothing and exits 1 when a
// checked-in section differs from what the tools print now (the docs test runs it), so the
// guide cannot drift from the tool. Needs a build (apps/cli/dist) and a PostgreSQL with
// pgvector: $MOSAIC_TEST_DATABASE_URL, a superuser URL, else the local server on 5432.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as lock from '@mosaic/advisory-lock';
import * as schema from '@mosaic/schema';
import { ROOT } from '../packages.mjs';
import { captureGuide } from './capture.mjs';
import { collectErrorCodes } from './error-tables.mjs';
import { migrationOrder, lockKey, skippedTables, troubleshooting } from './guide-sections.mjs';
import { changedSections, fillSections } from './markers.mjs';
import { packageListings } from './package-listings.mjs';
import { DEFAULT_ADMIN_URL } from './scratch.mjs';

async function guide() {
  const { exitStatusFor } = await import(pathToFileURL(join(ROOT, 'apps/cli/dist/exit.js')).href);
  const codes = collectErrorCodes(ROOT, exitStatusFor);
  const captured = await captureGuide({ adminUrl: process.env.MOSAIC_TEST_DATABASE_URL || DEFAULT_ADMIN_URL });
  return {
    ...captured,
    'migration-order': migrationOrder(schema),
    'skipped-tables': skippedTables(schema),
    'lock-key': lockKey(lock),
    troubleshooting: troubleshooting(codes, (project) => `../${project}/README.md`),
  };
}

const DOCUMENTS = [
  { file: 'docs/migrating-to-federated.md', sections: guide },
  { file: 'docs/packages.md', sections: packageListings },
];

async function main(argv) {
  const check = argv.includes('--check');
  if (!existsSync(join(ROOT, 'apps/cli/dist/bin.js'))) {
    console.error('docs: apps/cli is not built: run "npx nx run-many -t build" first.');
    return 1;
  }
  let stale = 0;
  for (const doc of DOCUMENTS) {
    const path = join(ROOT, doc.file);
    const before = readFileSync(path, 'utf8');
    const after = fillSections(before, await doc.sections());
    const changed = changedSections(before, after);
    if (changed.length === 0) {
      console.error(`docs: ${doc.file} is up to date`);
    } else if (check) {
      stale += 1;
      console.error(`docs: ${doc.file}: generated section(s) differ from what the tools print now: ${changed.join(', ')}`);
      console.error(firstDifference(before, after));
    } else {
      writeFileSync(path, after);
      console.error(`docs: ${doc.file}: rewrote ${changed.join(', ')}`);
    }
  }
  if (stale > 0) console.error('docs: run "npm run docs:generate" and commit the result (or fix the tool, if its output is what changed by mistake).');
  return stale > 0 ? 1 : 0;
}

/** The first differing line, with its neighbours: enough to see what moved. */
function firstDifference(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i += 1;
  const show = (lines, mark) => lines.slice(Math.max(0, i - 2), i + 3).map((l, k) => `${k + Math.max(0, i - 2) === i ? mark : ' '} ${l}`).join('\n');
  return `  at line ${i + 1}:\n  checked in:\n${show(a, '-')}\n  now:\n${show(b, '+')}`;
}

process.exitCode = await main(process.argv.slice(2));
