import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { isMosaicError, openDatabase, redactText } from '@mosaic/connection';
import type { Tier } from '@mosaic/schema';
import { detectDatabase } from '@mosaic/tier-detect';
import type { Detection } from '@mosaic/tier-detect';
import { compare } from '@mosaic/verify';
import { bearerAuth } from './auth.js';
import { JobManager } from './jobs.js';
import type { Cutover, JobEvent } from './jobs.js';
import { httpStatusFor } from './http-status.js';
import { checkStore } from './startup.js';
import { StoreHandle } from './store.js';
import type { MosaicStore } from './store.js';

export interface MosaicStorageOptions {
  /** The gateway's own store: a PostgreSQL URL or a PGlite directory. */
  store: string;
  /** The tier the gateway is configured for; start-up refuses a store of another tier. */
  tier: Tier;
  /** Valkey (Redis protocol) URL of a federated deployment: health is logged at start-up. */
  valkeyUrl?: string | undefined;
  /** Seconds a frozen write is told to wait (Retry-After). Default 30. */
  retryAfterSeconds?: number;
  /** How gateways move to a verified target: `restart` (default) or `live`. Recorded on each job; a job's body may choose its own. */
  cutover?: Cutover;
  /** Default bound of a job's wait for the run lock on its target (a job's body may set its own). Default 30. */
  lockTimeoutSeconds?: number;
  /** How long a job waits for writes in flight at its freeze before it gives up (WRITES_IN_FLIGHT). Default 10. */
  writeDrainSeconds?: number;
  /** On close, how long a running job may go on before it is cancelled. Default 10. */
  closeTimeoutSeconds?: number;
  /** Finished jobs kept for GET /migrations. Default 20. */
  keepJobs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's store: reads through query/transaction, every write through write(fn). */
    mosaicStore: MosaicStore;
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
    cutover: { type: 'string', enum: ['live', 'restart'] },
    lockTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
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
    id: job.id, state: job.state, step: job.step, cancelRequested: job.cancelRequested, to: job.to, target: job.target, dryRun: job.dryRun,
    cutover: job.cutover, lockTimeoutSeconds: job.lockTimeoutSeconds, startedAt: job.startedAt, finishedAt: job.finishedAt,
    tables: Object.fromEntries(job.tables), error: job.error, report: job.report,
  };
}

const sse = (event: JobEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

const mosaicStorage: FastifyPluginAsync<MosaicStorageOptions> = async (app: FastifyInstance, options) => {
  const store = await openDatabase(options.store, { applicationName: 'mosaic gateway' });
  let detection: Detection;
  try {
    detection = await checkStore(store, options.tier, options.valkeyUrl);
  } catch (error) {
    await store.close();
    throw error;
  }
  app.log.info({ tier: detection.tier, engine: detection.engine, serverVersion: detection.serverVersion, schemaVersion: detection.schema.version, valkey: detection.valkey }, `mosaic storage: ${detection.tier} tier at ${detection.location}`);
  const retryAfter = options.retryAfterSeconds ?? 30;
  const cutover = options.cutover ?? 'restart';
  const handle = new StoreHandle(store, detection.tier, retryAfter);
  const jobs = new JobManager(store, handle, { writeDrainMs: (options.writeDrainSeconds ?? 10) * 1000, keepFinished: options.keepJobs ?? 20 });
  app.decorate('mosaicStore', handle);
  app.decorate('mosaicJobs', jobs);
  app.addHook('onClose', async () => {
    await jobs.drain((options.closeTimeoutSeconds ?? 10) * 1000);
    await store.close();
  });

  // Write freeze: no write may land in the source after the migration's snapshot. Routes that
  // write through app.mosaicStore.write() are refused there too (a request that got past this
  // hook just before the freeze), and the job waits for the writes already in flight.
  app.addHook('onRequest', async (request, reply) => {
    if (!handle.frozen || !MUTATING.has(request.method) || request.url.startsWith(PREFIX)) return;
    await reply.code(503).header('Retry-After', String(retryAfter)).send({ error: 'Service Unavailable', message: `A storage migration is running: writes are paused. Retry after ${retryAfter} s.` });
  });

  await app.register(async (admin) => {
    admin.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(statusPage));

    await admin.register(async (api) => {
      api.addHook('preHandler', bearerAuth(handle));

      // Errors become one JSON line; validation failures name the field and the reason.
      api.setErrorHandler(async (error: Error & { validation?: unknown; statusCode?: number; code?: string }, request, reply) => {
        if (error.validation) return reply.code(400).send({ error: 'Bad Request', message: error.message });
        request.log.warn({ code: error.code }, 'mosaic storage admin request failed');
        return reply.code(httpStatusFor(error)).send({ error: isMosaicError(error) ? error.code : 'UNEXPECTED', message: redactText(error.message.split('\n')[0] ?? '') });
      });

      api.get('/tier', async () => detectDatabase(store, { valkeyUrl: options.valkeyUrl }));

      api.get('/state', async () => ({
        tier: handle.tier, location: handle.location, cutover, frozen: handle.frozen, inFlightWrites: handle.inFlightWrites, running: jobs.running?.id ?? null,
      }));

      api.get('/migrations', async () => jobs.list().map(jobView));

      api.post('/migrations', { schema: { body: migrationBody } }, async (request, reply) => {
        const body = request.body as { to: Tier; targetUrl: string; dryRun: boolean; cutover?: Cutover; lockTimeoutSeconds?: number };
        const running = jobs.running;
        if (running) return reply.code(409).send({ error: 'Conflict', message: `Migration ${running.id} is still running.`, id: running.id });
        const job = jobs.start({
          to: body.to, targetUrl: body.targetUrl, dryRun: body.dryRun, cutover: body.cutover ?? cutover, lockTimeoutSeconds: body.lockTimeoutSeconds ?? options.lockTimeoutSeconds ?? 30,
        });
        return reply.code(202).header('Location', `${PREFIX}/migrations/${job.id}`).send({ id: job.id, state: job.state });
      });

      api.get('/migrations/:id', async (request, reply) => {
        const job = jobs.get((request.params as { id: string }).id);
        if (!job) return reply.code(404).send({ error: 'Not Found', message: 'No such migration job.' });
        return jobView(job);
      });

      // Cancel: the job stops at its next step and ends `cancelled`; the freeze lifts.
      api.delete('/migrations/:id', async (request, reply) => {
        const job = jobs.get((request.params as { id: string }).id);
        if (!job) return reply.code(404).send({ error: 'Not Found', message: 'No such migration job.' });
        if (!jobs.cancel(job.id)) return reply.code(409).send({ error: 'Conflict', message: `Migration ${job.id} has already ended (${job.state}).`, state: job.state });
        return reply.code(202).send(jobView(job));
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
