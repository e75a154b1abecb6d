#!/usr/bin/env node
// Regenerates the per-tier SQL migrations from the TypeScript schema with drizzle-kit.
//   node scripts/generate.mjs [--out DIR]     (default: ./drizzle, the checked-in folder)
// The drift test runs this into a temp dir and compares the SQL with the checked-in files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { customMigrations, TIERS_SCHEMA } from './custom-migrations.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const outRoot = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(pkg, 'drizzle');
const kit = join(pkg, '..', '..', 'node_modules', 'drizzle-kit', 'bin.cjs');

function kitGenerate(tier, args) {
  execFileSync(process.execPath, [kit, 'generate', '--dialect', 'postgresql',
    // drizzle-kit wants paths relative to its working directory.
    '--schema', `./src/tiers/${TIERS_SCHEMA[tier]}.ts`, '--out', relative(pkg, join(outRoot, tier)), ...args],
  { cwd: pkg, stdio: ['ignore', 'ignore', 'inherit'] });
}

for (const tier of Object.keys(TIERS_SCHEMA)) {
  const out = join(outRoot, tier);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const step of customMigrations(tier)) {
    if (step.generated) {
      kitGenerate(tier, ['--name', step.name]);
      continue;
    }
    kitGenerate(tier, ['--custom', '--name', step.name]);
    const file = readdirSync(out).find((f) => f.endsWith(`_${step.name}.sql`));
    if (!file) throw new Error(`drizzle-kit did not create the ${step.name} migration for ${tier}`);
    writeFileSync(join(out, file), step.sql);
  }
}
console.error(`migrations written to ${outRoot}`);
