import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { isMosaicError, openDatabase, redactText } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import type { Tier } from '@mosaic/schema';
import { detectDatabase } from '@mosaic/tier-detect';
import { compare } from '@mosaic/verify';
import { bearerAuth } from './auth.js';
import { JobManager } from './jobs.js';
import type { JobEvent } from './jobs.js';
import { httpStatusFor } from './http-status.js';
import { checkStore } from './startup.js';

export interface MosaicStorageOptions {
  /** The gateway's own store: a PostgreSQL URL or a PGlite directory. */
  store: string;
  /** The tier the gateway is configured for; start-up refuses a store of another tier. */
  tier: Tier;
  /** Valkey (Redis protocol) URL of a federated deployment: health is logged at start-up. */
  valkeyUrl?: string | undefined;
  /** Seconds a frozen write is told to wait (Retry-After). Default 30. */
  retryAfterSeconds?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's store, open for the life of the server. */
    mosaicStore: Database;
    mosaicJobs: JobManager;
  }
}

const PREFIX = '/admin/storage';
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const statusPage = readFileSync(new URL('../public/status.html', import.meta.url), 'utf8');

const migrationBody = {
  type: 'object',
  required: ['to', 'targetUrl'],
  additionalProperties: false,
  properties: {
    to: { type: 'string', enum: ['standalone', 'federated'] },
    targetUrl: { type: 'string', pattern: '^postgres(ql)?://', minLength: 12 },
    dryRun: { type: 'boolean', default: false },
  },
} as const;

const verifyBody = {
  type: 'object',
  required: ['targetUrl'],
  additionalProperties: false,
  properties: { targetUrl: { type: 'string', pattern: '^postgres(ql)?://', minLength: 12 } },
} as const;

function jobView(job: ReturnType<JobManager['get']> & object) {
  return {
    id: job.id, state: job.state, to: job.to, target: job.target, dryRun: job.dryRun, startedAt: job.startedAt, finishedAt: job.finishedAt,
    tables: Object.fromEntries(job.tables), error: job.error, report: job.report,
  };
}

const sse = (event: JobEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

const mosaicStorage: FastifyPluginAsync<MosaicStorageOptions> = async (app: FastifyInstance, options) => {
  const store = await openDatabase(options.store, { applicationName: 'mosaic gateway' });
  app.addHook('onClose', async () => {
    await jobs.drain();
    await store.close();
  });
  let detection;
  try {
    detection = await checkStore(store, options.tier, options.valkeyUrl);
  } catch (error) {
    await store.close();
    throw error;
  }
  app.log.info({ tier: detection.tier, engine: detection.engine, serverVersion: detection.serverVersion, schemaVersion: detection.schema.version, valkey: detection.valkey }, `mosaic storage: ${detection.tier} tier at ${detection.location}`);
  const jobs = new JobManager(store);
  app.decorate('mosaicStore', store);
  app.decorate('mosaicJobs', jobs);

  // Write freeze: no write may land in the source after the migration's snapshot.
  const retryAfter = String(options.retryAfterSeconds ?? 30);
  app.addHook('onRequest', async (request, reply) => {
    if (!jobs.frozen || !MUTATING.has(request.method) || request.url.startsWith(PREFIX)) return;
    await reply.code(503).header('Retry-After', retryAfter).send({ error: 'Service Unavailable', message: `A storage migration is running: writes are paused. Retry after ${retryAfter} s.` });
  });

  await app.register(async (admin) => {
    admin.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(statusPage));

    await admin.register(async (api) => {
      api.addHook('preHandler', bearerAuth(store));

      // Errors become one JSON line; validation failures name the field and the reason.
      api.setErrorHandler(async (error: Error & { validation?: unknown; statusCode?: number; code?: string }, request, reply) => {
        if (error.validation) return reply.code(400).send({ error: 'Bad Request', message: error.message });
        request.log.warn({ code: error.code }, 'mosaic storage admin request failed');
        return reply.code(httpStatusFor(error)).send({ error: isMosaicError(error) ? error.code : 'UNEXPECTED', message: redactText(error.message.split('\n')[0] ?? '') });
      });

      api.get('/tier', async () => detectDatabase(store, { valkeyUrl: options.valkeyUrl }));

      api.get('/migrations', async () => jobs.list().map(jobView));

      api.post('/migrations', { schema: { body: migrationBody } }, async (request, reply) => {
        const body = request.body as { to: Tier; targetUrl: string; dryRun: boolean };
        const running = jobs.running;
        if (running) return reply.code(409).send({ error: 'Conflict', message: `Migration ${running.id} is still running.`, id: running.id });
        const job = jobs.start({ to: body.to, targetUrl: body.targetUrl, dryRun: body.dryRun });
        return reply.code(202).header('Location', `${PREFIX}/migrations/${job.id}`).send({ id: job.id, state: job.state });
      });

      api.get('/migrations/:id', async (request, reply) => {
        const job = jobs.get((request.params as { id: string }).id);
        if (!job) return reply.code(404).send({ error: 'Not Found', message: 'No such migration job.' });
        return jobView(job);
      });

      api.get('/migrations/:id/events', async (request, reply) => {
        const job = jobs.get((request.params as { id: string }).id);
        if (!job) return reply.code(404).send({ error: 'Not Found', message: 'No such migration job.' });
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        for (const event of job.events) raw.write(sse(event));
        if (job.state !== 'running') return raw.end();
        const unsubscribe = jobs.subscribe(job.id, (event) => {
          raw.write(sse(event));
          if (event.type === 'report') {
            unsubscribe();
            raw.end();
          }
        });
        request.raw.on('close', unsubscribe);
      });

      api.post('/verify', { schema: { body: verifyBody } }, async (request) => {
        const { targetUrl } = request.body as { targetUrl: string };
        const target = await openDatabase(targetUrl, { applicationName: 'mosaic gateway verify' });
        try {
          return await compare(store, target);
        } finally {
          await target.close();
        }
      });
    });
  }, { prefix: PREFIX });
};

/** The Mosaic storage plugin: start-up tier check, admin routes, write freeze. */
export const mosaicStoragePlugin = fp(mosaicStorage, { name: '@mosaic/gateway-plugin', fastify: '5.x' });
