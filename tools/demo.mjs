#!/usr/bin/env node
// `npm run demo`: the main job, end to end, on this machine: a local (PGlite) store is created
// and seeded, a dry run shows the plan, migrate-tier moves it to a federated PostgreSQL target,
// and status shows the result.
// Target: $MOSAIC_DEMO_TARGET_URL, else a fresh `mosaic_demo` database on the PostgreSQL 17 +
// pgvector server (127.0.0.1:5433) and the Valkey 8 server (127.0.0.1:6380) that
// tools/provision-services.sh provides (it is run first when no URL is given).
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
let valkeyUrl = process.env.MOSAIC_VALKEY_URL ?? 'redis://127.0.0.1:6380';
if (!target) {
  // The script's last lines are KEY=VALUE: the PostgreSQL 17 server and the Valkey 8 server.
  const provision = spawnSync('bash', [join(root, 'tools/provision-services.sh')], {
    env: { ...process.env, MOSAIC_PROVISION_QUIET: '1' }, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8',
  });
  if (provision.status !== 0) {
    console.error(`demo: tools/provision-services.sh failed (exit ${provision.status ?? provision.signal})`);
    process.exit(provision.status ?? 1);
  }
  const urls = Object.fromEntries(provision.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const server = new URL(urls.MOSAIC_TEST_PG17_URL ?? 'postgresql://postgres@127.0.0.1:5433/postgres');
  valkeyUrl = urls.MOSAIC_VALKEY_URL ?? valkeyUrl;
  // A superuser creates the extension (pgvector is not a trusted extension), as an operator's DBA would.
  const psql = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', server.hostname, '-p', server.port || '5432', '-U', server.username];
  sh('psql', [...psql, '-d', 'postgres', '-c', 'DROP DATABASE IF EXISTS mosaic_demo WITH (FORCE)', '-c', 'CREATE DATABASE mosaic_demo']);
  sh('psql', [...psql, '-d', 'mosaic_demo', '-c', 'CREATE EXTENSION vector']);
  server.pathname = '/mosaic_demo';
  target = server.href;
}

rmSync(store, { recursive: true, force: true });
mosaic('storage', 'init', '--url', store);
mosaic('storage', 'seed', '--url', store, '--scale', scale);
mosaic('storage', 'migrate-tier', '--source', store, '--to', 'federated', '--target-url', target, '--dry-run');
mosaic('storage', 'migrate-tier', '--source', store, '--to', 'federated', '--target-url', target, '--yes');
mosaic('storage', 'status', '--url', target, '--valkey-url', valkeyUrl);
