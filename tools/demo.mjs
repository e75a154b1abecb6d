#!/usr/bin/env node
// `npm run demo`: the main job, end to end, on this machine: a local (PGlite) store is created
// and seeded, a dry run shows the plan, migrate-tier moves it to a federated PostgreSQL target,
// and status shows the result.
// Target: $MOSAIC_DEMO_TARGET_URL, else a fresh `mosaic_demo` database on the local
// PostgreSQL that tools/provision-services.sh provides (it is run first when no URL is given).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const store = join(root, '.mosaic-demo', 'local');
const scale = process.env.MOSAIC_DEMO_SCALE ?? '10';

function sh(command, args, options = {}) {
  const run = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (run.status !== 0) {
    console.error(`demo: ${command} ${args.join(' ')} failed (exit ${run.status ?? run.signal})`);
    process.exit(run.status ?? 1);
  }
}
const mosaic = (...args) => {
  console.error(`\n$ mosaic ${args.join(' ')}`);
  sh(process.execPath, [join(root, 'apps/cli/bin/mosaic.js'), ...args]);
};

let target = process.env.MOSAIC_DEMO_TARGET_URL;
if (!target) {
  sh('bash', [join(root, 'tools/provision-services.sh')], { env: { ...process.env, MOSAIC_PROVISION_QUIET: '1' }, stdio: ['ignore', 'ignore', 'inherit'] });
  sh('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', 'DROP DATABASE IF EXISTS mosaic_demo WITH (FORCE)', '-c', 'CREATE DATABASE mosaic_demo']);
  sh('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'mosaic_demo', '-c', 'CREATE EXTENSION vector']);
  target = 'postgresql://postgres@127.0.0.1:5432/mosaic_demo';
}

rmSync(store, { recursive: true, force: true });
mosaic('storage', 'init', '--url', store);
mosaic('storage', 'seed', '--url', store, '--scale', scale);
mosaic('storage', 'migrate-tier', '--source', store, '--to', 'federated', '--target-url', target, '--dry-run');
mosaic('storage', 'migrate-tier', '--source', store, '--to', 'federated', '--target-url', target, '--yes');
mosaic('storage', 'status', '--url', target, '--valkey-url', process.env.MOSAIC_VALKEY_URL ?? 'redis://127.0.0.1:6379');
