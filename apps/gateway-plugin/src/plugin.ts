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
import { Membership } from './membership.js';
import { configurationChange, StoreHandle } from './store.js';
import { GatewayStartupError } from './errors.js';
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
  /**
   * How this gateway follows a verified migration of its store: `restart` (default: writes stay
   * refused until it is restarted on the new store) or `live` (app.mosaicStore switches to the
   * target and writes flow again). Also the default of a job's own `cutover`.
   */
  cutover?: Cutover;
  /**
   * For `cutover: 'live'` in a gateway that does not run the migration itself: the target's URL
   * with its password (the store records it redacted only). Used only if its redacted form is the
   * location the retired store names. The gateway that ran the job knows it already.
   */
  targetUrl?: string | undefined;
  /** How often the gateway heartbeats and reads the store state (the fallback for LISTEN). Default HEARTBEAT_EVERY_MS (3 s). */
  heartbeatMs?: number;
  /** No heartbeat answered for this long: writes refused until the store answers (fail closed). Default max(3 x heartbeatMs, 3 s). */
  contactTimeoutMs?: number;
  /** Bound on the store-wide freeze of a job (writes in flight, gateways' acknowledgements). Default 30. */
  freezeTimeoutSeconds?: number;
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

/** The numeric options and their bounds: a NaN heartbeat would poll the store in a tight loop, a negative drain never wait. */
const NUMERIC_OPTIONS = {
  retryAfterSeconds: [1, 86_400], heartbeatMs: [100, 3_600_000], contactTimeoutMs: [100, 86_400_000], freezeTimeoutSeconds: [1, 86_400],
  lockTimeoutSeconds: [1, 86_400], writeDrainSeconds: [0, 86_400], closeTimeoutSeconds: [0, 86_400], keepJobs: [1, 10_000],
} as const satisfies Partial<Record<keyof MosaicStorageOptions, readonly [number, number]>>;

/** Refuses a plugin option out of its bounds before anything is opened: one line naming the option, its value and what it takes. */
export function checkOptions(options: MosaicStorageOptions): void {
  for (const [name, [min, max]] of Object.entries(NUMERIC_OPTIONS)) {
    const value = (options as unknown as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (name === 'keepJobs' && !Number.isInteger(value))) {
      throw new GatewayStartupError('BAD_OPTION', `The mosaic storage plugin option ${name} is ${JSON.stringify(value) ?? String(value)}: it takes a number from ${min} to ${max}${name === 'keepJobs' ? ' (whole)' : ''}.`);
    }
  }
  if (options.cutover !== undefined && options.cutover !== 'live' && options.cutover !== 'restart') {
    throw new GatewayStartupError('BAD_OPTION', `The mosaic storage plugin option cutover is ${JSON.stringify(options.cutover)}: it takes 'live' or 'restart'.`);
  }
}

const sse = (event: JobEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

const mosaicStorage: FastifyPluginAsync<MosaicStorageOptions> = async (app: FastifyInstance, options) => {
  checkOptions(options);
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
  const drainMs = (options.writeDrainSeconds ?? 10) * 1000;
  let membership: Membership;
  try {
    membership = await Membership.join(handle, { cutover, targetUrl: options.targetUrl, valkeyUrl: options.valkeyUrl, drainMs, heartbeatMs: options.heartbeatMs, contactTimeoutMs: options.contactTimeoutMs, log: app.log });
  } catch (error) {
    await store.close();
    throw error;
  }
  const jobs = new JobManager(handle, { writeDrainMs: drainMs, keepFinished: options.keepJobs ?? 20, freezeTimeoutMs: (options.freezeTimeoutSeconds ?? 30) * 1000 });
  jobs.attach(membership);
  app.decorate('mosaicStore', handle);
  app.decorate('mosaicJobs', jobs);
  app.addHook('onClose', async () => {
    await jobs.drain((options.closeTimeoutSeconds ?? 10) * 1000);
    await membership.close();
    await handle.database.close();
  });

  // Write freeze: no write may land in the source after the migration's snapshot. Routes that
  // write through app.mosaicStore.write() are refused there too (a request that got past this
  // hook just before the freeze), and the job waits for the writes already in flight.
  app.addHook('onRequest', async (request, reply) => {
    if (!handle.frozen || !MUTATING.has(request.method) || request.url.startsWith(PREFIX)) return;
    const refusal = handle.refusal();
    await reply.code(refusal.statusCode).headers(refusal.headers).send({ error: 'Service Unavailable', code: refusal.code, message: refusal.message });
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

      api.get('/tier', async () => detectDatabase(handle.database, { valkeyUrl: options.valkeyUrl }));

      api.get('/state', async () => ({
        tier: handle.tier, location: handle.location, cutover, frozen: handle.frozen, frozenBy: handle.frozenBy, inFlightWrites: handle.inFlightWrites, running: jobs.running?.id ?? null,
        gatewayId: membership.gatewayId,
        moved: handle.moved ? { ...handle.moved, configuration: configurationChange(handle.moved) } : null,
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
          return await compare(handle.database, target);
        } finally {
          await target.close();
        }
      });
    });
  }, { prefix: PREFIX });
};

/** The Mosaic storage plugin: start-up tier check, admin routes, write freeze. */
export const mosaicStoragePlugin = fp(mosaicStorage, { name: '@mosaic/gateway-plugin', fastify: '5.x' });
