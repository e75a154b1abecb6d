#!/usr/bin/env node
// `npm run gateway`: a development Mosaic gateway hosting the storage plugin.
//
//   MOSAIC_GATEWAY_STORE    a PGlite directory or a postgresql:// URL (default .mosaic-demo/gateway);
//                           a missing PGlite directory is created and seeded, anything else is served as is
//   MOSAIC_GATEWAY_PORT     port on 127.0.0.1 (default 8787; 0 picks a free one)
//   MOSAIC_GATEWAY_CUTOVER  live | restart (the plugin's cutover option; default restart)
//   MOSAIC_GATEWAY_TARGET_URL  for live cutover in a gateway that does not run the migration: the
//                           target's URL with its password (the store records it redacted only)
//   MOSAIC_GATEWAY_HEARTBEAT_MS  how often it heartbeats and reads the store state (default 3000)
//   MOSAIC_GATEWAY_SKIP_BUILD=1  serve the current dist/ without building (tests that build once)
//
// It builds the workspace first, under an exclusive lock held until it serves: several gateways
// started at once take turns, the first one builds, the others find the build current (an Nx
// cache hit whose outputs are in place leaves dist/ untouched), and no build empties a dist/
// (`rm -rf dist && tsc`) while another gateway is still importing from it. Workspace packages
// are therefore imported only after the build, dynamically. Prints a fresh one-day admin token.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const store = process.env.MOSAIC_GATEWAY_STORE || join(root, '.mosaic-demo', 'gateway');
const port = Number(process.env.MOSAIC_GATEWAY_PORT ?? 8787);
const cutover = process.env.MOSAIC_GATEWAY_CUTOVER || 'restart';
const say = (line) => process.stderr.write(`[gateway] ${line}\n`);

if (cutover !== 'live' && cutover !== 'restart') {
  say(`MOSAIC_GATEWAY_CUTOVER must be live or restart (got ${JSON.stringify(cutover)}).`);
  process.exit(2);
}
// A port or heartbeat that is not a whole number would listen nowhere useful, or heartbeat the store
// in a tight loop (setTimeout(NaN) fires at once): refused here, in one line.
if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
  say(`MOSAIC_GATEWAY_PORT must be a port number from 0 to 65535 (got ${JSON.stringify(process.env.MOSAIC_GATEWAY_PORT)}).`);
  process.exit(2);
}
const heartbeat = process.env.MOSAIC_GATEWAY_HEARTBEAT_MS;
if (heartbeat !== undefined && heartbeat !== '' && !(Number.isInteger(Number(heartbeat)) && Number(heartbeat) >= 100)) {
  say(`MOSAIC_GATEWAY_HEARTBEAT_MS must be a whole number of milliseconds, at least 100 (got ${JSON.stringify(heartbeat)}).`);
  process.exit(2);
}

/**
 * The build lock: flock(1) on a file, held by a child process until its stdin closes, so the lock
 * ends with this process however it ends (kill -9 included: the kernel drops a dead holder's lock,
 * no pid file to go stale). Resolves with the release function once held.
 */
function takeBuildLock() {
  const dir = join(root, 'node_modules', '.cache', 'mosaic-gateway');
  mkdirSync(dir, { recursive: true });
  const holder = spawn('flock', ['--exclusive', join(dir, 'build.lock'), 'sh', '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const release = () => holder.stdin.end();
  return new Promise((resolve, reject) => {
    const waiting = setTimeout(() => say('waiting for another gateway to finish building...'), 1000);
    holder.once('error', (error) => {
      clearTimeout(waiting);
      reject(new Error(`cannot take the build lock (flock from util-linux is needed): ${error.message}`));
    });
    holder.stdout.once('data', () => {
      clearTimeout(waiting);
      resolve(release);
    });
  });
}

const skipBuild = process.env.MOSAIC_GATEWAY_SKIP_BUILD === '1';
const releaseBuildLock = skipBuild ? () => {} : await takeBuildLock();
const build = skipBuild ? { status: 0 } : spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: root, stdio: ['ignore', 2, 2], env: { ...process.env, NX_DAEMON: 'false' } });
if (build.status !== 0) {
  say('the build failed: see above.');
  process.exit(1);
}

const { default: Fastify } = await import('fastify');
const { openDatabase, parseLocation } = await import('@mosaic/connection');
const { hashToken, mosaicStoragePlugin } = await import('@mosaic/gateway-plugin');
const { applyMigrations } = await import('@mosaic/schema');
const { seed } = await import('@mosaic/seed');
const { detectDatabase } = await import('@mosaic/tier-detect');

// Create and seed only a PGlite directory that does not exist yet; serve anything else as it is.
const token = randomBytes(24).toString('base64url');
let found;
try {
  found = await prepareStore();
} catch (error) {
  say(error.message.split('\n')[0]); // Mosaic errors are one redacted line saying what to do
  process.exit(1);
}

async function prepareStore() {
  const location = parseLocation(store);
  const fresh = location.engine === 'pglite' && !existsSync(join(location.dir, 'PG_VERSION'));
  const db = await openDatabase(store, { create: fresh, applicationName: 'mosaic dev gateway setup' });
  try {
    if (fresh) {
      await applyMigrations(db, 'local');
      await seed(db, { scale: Number(process.env.MOSAIC_DEMO_SCALE ?? 10) });
    }
    const detected = await detectDatabase(db, { counts: false });
    // Without a schema the plugin refuses to start below, saying what to run.
    if (detected.schema.present) {
      const [row] = await db.query(
        "insert into admin_tokens (user_id, label, token_hash, expires_at) select id, 'npm run gateway', $1::text, now() + interval '1 day' from users order by id limit 1 returning id",
        [hashToken(token)],
      ).catch((error) => {
        // A frozen or retired store refuses the token (the plugin then says what to do about it).
        if (error.sqlState === 'MOSFZ' || error.sqlState === 'MOSRT') return [{ refused: error.sqlState }];
        throw error;
      });
      if (!row) say(`the store ${detected.location} has no users: no admin token was issued (seed it with "mosaic storage seed").`);
      else if (row.refused) say(`the store ${detected.location} refuses writes (${row.refused === 'MOSFZ' ? 'frozen for a migration' : 'retired'}): no admin token was issued.`);
    }
    return detected;
  } finally {
    await db.close();
  }
}

const app = Fastify({ logger: true });
try {
  await app.register(mosaicStoragePlugin, {
    store, tier: found.tier, valkeyUrl: process.env.MOSAIC_VALKEY_URL, cutover,
    targetUrl: process.env.MOSAIC_GATEWAY_TARGET_URL || undefined,
    ...(process.env.MOSAIC_GATEWAY_HEARTBEAT_MS ? { heartbeatMs: Number(process.env.MOSAIC_GATEWAY_HEARTBEAT_MS) } : {}),
  });
} catch (error) {
  releaseBuildLock();
  say(`${error.code ? `${error.code}: ` : ''}${error.message}`);
  process.exit(1);
}

// A refused write (WRITES_FROZEN: 503 + Retry-After) is expected during a migration: answer it
// with its own status and headers, logged without a stack.
app.setErrorHandler(async (error, request, reply) => {
  const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (status >= 500 && error.code !== 'WRITES_FROZEN') request.log.error({ err: error }, 'request failed');
  if (error.headers) reply.headers(error.headers);
  return reply.code(status).send({ error: error.code ?? 'UNEXPECTED', message: error.message.split('\n')[0] });
});

app.get('/api/health', async () => ({ ok: true, tier: app.mosaicStore.tier, frozen: app.mosaicStore.frozen }));

const noteBody = {
  type: 'object',
  required: ['id', 'note'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
    note: { type: 'string', minLength: 1, maxLength: 10_000 },
  },
};

// One events row per note, through the store handle: refused while frozen, counted in flight
// until its transaction has committed, and answered 201 only after that.
const INSERT_NOTE = `insert into events (id, user_id, type, seq, payload, occurred_at)
  values ($1::uuid, (select id from users order by id limit 1), 'note', (extract(epoch from clock_timestamp()) * 1000000)::bigint, jsonb_build_object('note', $2::text), now())`;
app.post('/api/notes', { schema: { body: noteBody } }, async (request, reply) => {
  const { id, note } = request.body;
  try {
    await app.mosaicStore.write((store) => store.transaction((tx) => tx.query(INSERT_NOTE, [id, note])));
  } catch (error) {
    if (error.sqlState === '23505') return reply.code(409).send({ error: 'Conflict', message: `A note with id ${id} exists already.` });
    throw error;
  }
  return reply.code(201).send({ id });
});

const url = await app.listen({ host: '127.0.0.1', port });
releaseBuildLock();
process.stderr.write(`\nMosaic dev gateway on ${url} (${found.tier} tier at ${found.location}, cutover ${cutover})\n  status page: ${url}/admin/storage/\n  admin token (valid 1 day): ${token}\n\n`);
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void app.close().then(() => process.exit(0)));
