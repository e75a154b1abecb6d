#!/usr/bin/env node
// `npm run gateway`: a development Mosaic gateway hosting the storage plugin on a local store.
// Creates and seeds .mosaic-demo/gateway on first use, issues a fresh admin token (printed once),
// and serves on http://127.0.0.1:${MOSAIC_GATEWAY_PORT:-8787}; the status page is /admin/storage/.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { openDatabase } from '@mosaic/connection';
import { hashToken, mosaicStoragePlugin } from '@mosaic/gateway-plugin';
import { applyMigrations } from '@mosaic/schema';
import { seed } from '@mosaic/seed';

const root = new URL('..', import.meta.url).pathname;
const store = process.env.MOSAIC_GATEWAY_STORE ?? join(root, '.mosaic-demo', 'gateway');
const port = Number(process.env.MOSAIC_GATEWAY_PORT ?? 8787);
const token = randomBytes(24).toString('base64url');

const fresh = !existsSync(join(store, 'PG_VERSION'));
const db = await openDatabase(store, { create: true, applicationName: 'mosaic dev gateway setup' });
try {
  await applyMigrations(db, 'local');
  if (fresh) await seed(db, { scale: Number(process.env.MOSAIC_DEMO_SCALE ?? 10) });
  await db.query("insert into admin_tokens (user_id, label, token_hash, expires_at) select id, 'npm run gateway', $1, now() + interval '1 day' from users order by id limit 1", [hashToken(token)]);
} finally {
  await db.close();
}

const app = Fastify({ logger: true });
await app.register(mosaicStoragePlugin, { store, tier: 'local', valkeyUrl: process.env.MOSAIC_VALKEY_URL });
app.get('/api/health', async () => ({ ok: true }));
app.post('/api/notes', async (_request, reply) => reply.code(201).send({ ok: true }));
const url = await app.listen({ host: '127.0.0.1', port });
process.stderr.write(`\nMosaic dev gateway on ${url}\n  status page: ${url}/admin/storage/\n  admin token (valid 1 day): ${token}\n\n`);
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void app.close().then(() => process.exit(0)));
