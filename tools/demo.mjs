#!/usr/bin/env node
// `npm run demo`: the main job, end to end, on this machine. Today: create a local (PGlite)
// store, seed it with realistic data, and show what is in it. The migrate-tier steps join
// here as they land (see README "Status").
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@mosaic/connection';
import { MIGRATION_ORDER, readSchemaInfo, SKIPPED_TABLES } from '@mosaic/schema';

const root = new URL('..', import.meta.url).pathname;
const store = join(root, '.mosaic-demo', 'local');
const scale = process.env.MOSAIC_DEMO_SCALE ?? '10';
const mosaic = (...args) => {
  console.error(`\n$ mosaic ${args.join(' ')}`);
  const run = spawnSync(process.execPath, [join(root, 'apps/cli/bin/mosaic.js'), ...args], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
};

rmSync(store, { recursive: true, force: true });
mosaic('storage', 'init', '--url', store);
mosaic('storage', 'seed', '--url', store, '--scale', scale);

const db = await openDatabase(store, { applicationName: 'mosaic demo' });
try {
  const info = await readSchemaInfo(db);
  console.log(`\n${store}: Mosaic ${info?.tier} store, schema v${info?.version}`);
  let total = 0;
  for (const table of MIGRATION_ORDER) {
    const [row] = await db.query(`select count(*)::int as n from ${table}`);
    total += row.n;
    const note = SKIPPED_TABLES[table] ? '  (skipped by migrate-tier)' : '';
    console.log(`  ${table.padEnd(22)} ${String(row.n).padStart(8)} rows${note}`);
  }
  console.log(`  ${'total'.padEnd(22)} ${String(total).padStart(8)} rows`);
} finally {
  await db.close();
}
