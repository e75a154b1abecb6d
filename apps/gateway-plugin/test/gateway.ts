import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { openDatabase } from '@mosaic/connection';
import { applyMigrations } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { seed } from '@mosaic/seed';
import { storeState, unfence } from '@mosaic/write-freeze';
import { hashToken, mosaicStoragePlugin } from '../src/index.js';
import type { MosaicStorageOptions } from '../src/index.js';
import type { StoreHandle } from '../src/store.js';

/** The built `mosaic` binary of apps/cli, run as an operator would (a devDependency, so Nx builds it first). */
const MOSAIC_BIN = join(dirname(createRequire(import.meta.url).resolve('@mosaic/cli/package.json')), 'bin', 'mosaic.js');

/** Runs `mosaic <args>`; stdout and stderr kept apart. */
export function mosaic(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MOSAIC_BIN, ...args], { env: { ...process.env, NO_COLOR: '1', MOSAIC_DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export interface Gateway {
  app: FastifyInstance;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** One `events` row per note (the dev gateway's tools/gateway.mjs inserts the same). */
export const INSERT_NOTE = `insert into events (id, user_id, type, seq, payload, occurred_at)
  values ($1::uuid, (select id from users order by id limit 1), 'note', (extract(epoch from clock_timestamp()) * 1000000)::bigint, jsonb_build_object('note', $2::text), now())`;

/**
 * A gateway as Mosaic runs one: Fastify with the plugin and a write route on 127.0.0.1.
 * `POST /api/notes` `{ id?, note?, waitMs?, holdMs? }` inserts one events row through
 * app.mosaicStore.write(), after waiting `waitMs` before the write (a request that passed the
 * freeze check just before a job starts) and `holdMs` inside it (a write in flight when it starts).
 */
export async function startGateway(store: string, tier: Tier, valkeyUrl?: string, extra: Partial<MosaicStorageOptions> = {}): Promise<Gateway> {
  const logs: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { logs.push(chunk.toString()); done(); } });
  const app = Fastify({ logger: { level: 'debug', stream } });
  await app.register(mosaicStoragePlugin, { store, tier, valkeyUrl, retryAfterSeconds: 7, ...extra });
  app.get('/api/notes', async () => ({ notes: [] }));
  app.post('/api/notes', async (request, reply) => {
    const body = (request.body ?? {}) as { id?: string; note?: string; waitMs?: number; holdMs?: number };
    const id = body.id ?? randomUUID();
    if (body.waitMs) await new Promise((r) => setTimeout(r, body.waitMs));
    await app.mosaicStore.write(async (db) => {
      if (body.holdMs) await new Promise((r) => setTimeout(r, body.holdMs));
      await db.transaction((tx) => tx.query(INSERT_NOTE, [id, body.note ?? 'a note']));
    });
    return reply.code(201).send({ id });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, logs, close: () => app.close() };
}

/**
 * The operator's rollback after a verified job retired the gateway's store: `unfence` of
 * @mosaic/write-freeze on the store the gateway holds (a PGlite store has one owner, so the CLI
 * could not open it now), then waits until the gateway's heartbeat has heard it and takes writes.
 * Does nothing to a store that is not retired (a freeze left behind stays visible to the test).
 */
export async function rollBackRetired(gw: Gateway, limitMs = 15_000): Promise<boolean> {
  const db = (gw.app.mosaicStore as StoreHandle).database;
  if ((await storeState(db)).state !== 'retired') return false;
  await unfence(db);
  const end = Date.now() + limitMs;
  while (gw.app.mosaicStore.frozen) {
    if (Date.now() > end) throw new Error(`the gateway still refuses writes ${limitMs} ms after its store was unfenced`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** A seeded store with one valid and one expired admin token. */
export async function storeWithTokens(location: string, tier: Tier, scale = 2): Promise<{ valid: string; expired: string }> {
  const valid = `mosaic-admin-${Math.random().toString(36).slice(2)}`;
  const expired = `mosaic-admin-old-${Math.random().toString(36).slice(2)}`;
  const db = await openDatabase(location, { create: true });
  try {
    await applyMigrations(db, tier);
    await seed(db, { scale, seed: 11 });
    await db.query(
      `insert into admin_tokens (user_id, label, token_hash, expires_at)
       select id, 'test', $1, null from users order by id limit 1`, [hashToken(valid)]);
    await db.query(
      `insert into admin_tokens (user_id, label, token_hash, expires_at)
       select id, 'old', $1, now() - interval '1 day' from users order by id limit 1`, [hashToken(expired)]);
  } finally {
    await db.close();
  }
  return { valid, expired };
}

export interface SseEvent {
  type: string;
  [key: string]: unknown;
}

/** Reads a Server-Sent Events stream to its end. */
export async function readSse(url: string, token: string, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`SSE ${res.status}: ${await res.text()}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (data) {
        const event = JSON.parse(data) as SseEvent;
        events.push(event);
        onEvent?.(event);
      }
    }
  }
  return events;
}
