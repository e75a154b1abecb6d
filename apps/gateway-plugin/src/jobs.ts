import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isMosaicError, openDatabase, parseLocation, redactText, redactUrl } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import type { HeldLock } from '@mosaic/advisory-lock';
import { execute, migrationSummary, prepare } from '@mosaic/copy-engine';
import type { CopyEvent } from '@mosaic/copy-engine';
import type { Tier } from '@mosaic/schema';
import { compare } from '@mosaic/verify';
import { freezeStore } from '@mosaic/write-freeze';
import type { Freeze } from '@mosaic/write-freeze';
import { GatewayJobError } from './errors.js';
import type { Membership } from './membership.js';
import { configurationChange } from './store.js';
import type { StoreHandle } from './store.js';

export type JobState = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Where a running job is: what a cancel interrupts. */
export type JobStep = 'draining-writes' | 'preparing' | 'waiting-for-lock' | 'freezing' | 'copying' | 'verifying' | 'ended';

/**
 * How gateways move to the target after a verified run: `live` switches
 * app.mosaicStore in every gateway that knows the target URL and thaws; `restart` keeps them
 * refusing writes until restarted on the new configuration.
 */
export type Cutover = 'live' | 'restart';

/** What the SSE stream sends: the copy engine's events, then one final report (with the job's error, if it did not succeed). */
export type JobEvent = CopyEvent | { readonly type: 'report'; readonly state: JobState; readonly report: unknown; readonly error: Job['error'] };

export interface Job {
  readonly id: string;
  readonly to: Tier;
  /** Redacted: no password ever leaves the job. */
  readonly target: string;
  readonly dryRun: boolean;
  readonly cutover: Cutover;
  readonly lockTimeoutSeconds: number;
  state: JobState;
  step: JobStep;
  cancelRequested: boolean;
  readonly startedAt: string;
  finishedAt: string | null;
  readonly tables: Map<string, { rows: number; rowsDone: number; bytes: number; done: boolean }>;
  readonly events: JobEvent[];
  report: unknown;
  error: { code: string; message: string } | null;
}

export interface StartMigration {
  to: Tier;
  targetUrl: string;
  dryRun: boolean;
  cutover: Cutover;
  lockTimeoutSeconds: number;
}

export interface JobLimits {
  /** How long a job waits for writes already in flight at its freeze (WRITES_IN_FLIGHT after). */
  writeDrainMs: number;
  /** Finished jobs kept for GET /migrations; older ones are forgotten. */
  keepFinished: number;
  /** Bound on the store-wide freeze's waits (writes in flight elsewhere, gateways' acknowledgements). Default 30 s. */
  freezeTimeoutMs?: number;
}

/** The per-job handles a cancel needs; not part of the job's JSON. */
interface Control {
  readonly abort: AbortController;
  lock: HeldLock | undefined;
  readonly done: Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Migration jobs out of the gateway's own store, one at a time. The store is the source, used
 * through the gateway's open connection (a PGlite store cannot be opened twice). A real (not
 * dry-run) job freezes writes through the store handle when it starts, waits for the writes
 * already in flight, freezes the store itself under the target lock, and only then reads the
 * source. A failed or cancelled job lifts the freeze; a verified one retires the store (PGlite
 * and PostgreSQL alike): writes stay refused until a live cutover, a restart on the target, or
 * an operator's unfence.
 */
export class JobManager {
  readonly #store: StoreHandle;
  #membership: Membership | undefined;
  readonly #limits: JobLimits;
  readonly #jobs = new Map<string, Job>();
  readonly #controls = new Map<string, Control>();
  readonly #listeners = new Map<string, Set<(event: JobEvent) => void>>();

  constructor(store: StoreHandle, limits: JobLimits) {
    this.#store = store;
    this.#limits = limits;
  }

  /** The gateway's membership in its store: its own freeze is acknowledged and cut over through it. */
  attach(membership: Membership): void {
    this.#membership = membership;
  }

  get running(): Job | undefined {
    return [...this.#jobs.values()].find((j) => j.state === 'running');
  }

  /** Newest first. */
  list(): Job[] {
    return [...this.#jobs.values()].reverse();
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  subscribe(id: string, listener: (event: JobEvent) => void): () => void {
    const set = this.#listeners.get(id) ?? new Set();
    set.add(listener);
    this.#listeners.set(id, set);
    return () => set.delete(listener);
  }

  #emit(job: Job, event: JobEvent): void {
    job.events.push(event);
    if (event.type === 'table-start') job.tables.set(event.table, { rows: event.rows, rowsDone: event.resumedRows, bytes: 0, done: false });
    if (event.type === 'table-progress') Object.assign(job.tables.get(event.table) ?? {}, { rowsDone: event.rowsDone, rows: event.rows, bytes: event.bytes });
    if (event.type === 'table-done') Object.assign(job.tables.get(event.table) ?? {}, { done: true, bytes: event.bytes });
    for (const listener of this.#listeners.get(job.id) ?? []) listener(event);
  }

  /** Starts a job and returns it at once (writes already frozen for a real one); the work goes on in the background. */
  start(request: StartMigration): Job {
    const job: Job = {
      id: randomUUID(), to: request.to, target: redactUrl(request.targetUrl), dryRun: request.dryRun, cutover: request.cutover, lockTimeoutSeconds: request.lockTimeoutSeconds,
      state: 'running', step: request.dryRun ? 'preparing' : 'draining-writes', cancelRequested: false,
      startedAt: new Date().toISOString(), finishedAt: null, tables: new Map(), events: [], report: null, error: null,
    };
    this.#jobs.set(job.id, job);
    if (!request.dryRun) this.#store.freeze(job.id);
    const abort = new AbortController();
    const control: Control = {
      abort,
      lock: undefined,
      done: this.#run(job, request, abort.signal, () => control).finally(() => this.#controls.delete(job.id)),
    };
    this.#controls.set(job.id, control);
    return job;
  }

  /**
   * Cancels a running job: it stops at its next step (a chunk being copied is not committed: the
   * run lock is released, as the CLI's Ctrl-C does, and the run's fence refuses the commit), ends
   * `cancelled`, and the freeze lifts. False when the job is not running.
   */
  cancel(id: string, reason = 'Cancelled by an operator.'): boolean {
    const job = this.#jobs.get(id);
    const control = this.#controls.get(id);
    if (!job || !control || job.state !== 'running') return false;
    job.cancelRequested = true;
    control.abort.abort(new GatewayJobError('JOB_CANCELLED', reason));
    void control.lock?.release().catch(() => {});
    return true;
  }

  /** Resolves when the job has ended (at once for an unknown or finished one). */
  async ended(id: string): Promise<void> {
    await this.#controls.get(id)?.done;
  }

  async #run(job: Job, request: StartMigration, signal: AbortSignal, control: () => Control): Promise<void> {
    let target: Database | undefined;
    let freeze: Freeze | undefined;
    const source = this.#store.database;
    const checkpoint = () => signal.throwIfAborted();
    // Stays 'running' in the view until the finally below: a failed run lifts its freeze first.
    let outcome: JobState = 'failed';
    try {
      if (!request.dryRun) {
        const drained = await this.#store.drained(this.#limits.writeDrainMs, signal);
        checkpoint();
        if (!drained) {
          throw new GatewayJobError('WRITES_IN_FLIGHT', `${this.#store.inFlightWrites} write(s) to the store were still in flight ${this.#limits.writeDrainMs / 1000} s after the freeze: nothing was copied; retry when the gateway is quieter.`);
        }
      }
      job.step = 'preparing';
      target = await openDatabase(request.targetUrl, { applicationName: 'mosaic gateway migrate-tier' });
      checkpoint();
      const options = { to: request.to, batchSize: 50_000, jobs: 2 };
      if (request.dryRun) {
        job.report = migrationSummary(await prepare(source, target, options), undefined, true);
        checkpoint();
      } else {
        await prepare(source, target, options); // refusals happen before anything is written
        checkpoint();
        job.step = 'waiting-for-lock';
        // The store itself is frozen, as the CLI does: under the target lock, before the snapshot
        // (DESIGN 5.10). On PostgreSQL that stops every other writer; on PGlite too the freeze
        // must live in the store, not in this handle's memory: only a durable freeze can be
        // retired once verified, so that a gateway restarted on the old directory refuses to
        // start (STORE_MOVED) instead of taking writes that the cutover would lose.
        const timeout = this.#limits.freezeTimeoutMs ?? 30_000;
        const { plan, report } = await execute(source, target, {
          ...options,
          lockTimeoutSeconds: request.lockTimeoutSeconds,
          onWait: checkpoint, // called every few seconds while another run holds the lock: a cancel ends the wait
          onLocked: (lock) => {
            control().lock = lock;
            job.step = 'copying';
            if (signal.aborted) void lock.release().catch(() => {});
            return () => { control().lock = undefined; };
          },
          afterLock: async () => {
            job.step = 'freezing';
            freeze = await freezeStore(source, {
              runId: job.id, by: `gateway ${this.#membership?.gatewayId ?? '?'} on ${hostname()} pid ${process.pid}`,
              lockTimeoutMs: timeout, ackTimeoutMs: timeout, signal,
              // This gateway acknowledges through its membership like the others; look at once.
              reportEveryMs: 200, onWaiting: () => void this.#membership?.poke(),
            });
            job.step = 'copying';
          },
          hooks: { onEvent: (e) => this.#emit(job, e) },
        });
        // Kept whether or not the run succeeded: the per-table statuses say what was copied.
        job.report = { ...migrationSummary(plan, report), cutover: job.cutover };
        checkpoint();
        if (!report.ok) throw report.error;
        job.step = 'verifying';
        const verification = await compare(source, target);
        job.report = { ...migrationSummary(plan, report), cutover: job.cutover, verification };
        checkpoint();
        if (!verification.ok) throw new GatewayJobError('VERIFY_DIFFERENCES', 'Verification found differences: see the report.');
        // afterLock froze the store before anything was read; a run cannot succeed without it.
        if (!freeze) throw new Error('The store was not frozen before the snapshot: it is not retired.');
        const retired = await freeze.retire({ tier: request.to, location: parseLocation(request.targetUrl), cutover: job.cutover });
        freeze = undefined;
        job.report = { ...(job.report as object), fence: { state: 'retired', retired, configuration: configurationChange(retired) } };
        // Every gateway hears it through the store state (this one at the poke, before its own
        // freeze lifts below); this one knows the target's password.
        this.#membership?.knowTarget(request.targetUrl, job.cutover === 'live');
        await this.#membership?.poke();
      }
      outcome = 'succeeded';
    } catch (error) {
      // A cancel wins over whatever the interrupted step threw (the fence refusing a commit, say).
      const cause = signal.aborted ? signal.reason : error;
      const e = cause as { message?: unknown };
      job.error = { code: isMosaicError(cause) ? cause.code : 'UNEXPECTED', message: redactText(String(e?.message ?? cause).split('\n')[0] ?? '') };
      outcome = signal.aborted ? 'cancelled' : 'failed';
      if (freeze) {
        // A failed or cancelled run: the store takes writes again (every gateway hears it).
        await freeze.lift().catch(() => {});
        await this.#membership?.poke();
      }
    } finally {
      // Thawed in the same tick the job's end becomes visible: whoever sees it ended can write,
      // unless the store was retired (the membership froze the handle for it above).
      // The job ends, is counted among the finished ones and old ones are forgotten, all in this
      // tick: a client that sees it ended (or lists the jobs then) sees the store as it now is.
      this.#store.thaw(job.id);
      job.state = outcome;
      job.step = 'ended';
      job.finishedAt = new Date().toISOString();
      this.#forgetOldJobs();
      await target?.close().catch(() => {});
      this.#emit(job, { type: 'report', state: job.state, report: job.report ?? { error: job.error }, error: job.error });
    }
  }

  #forgetOldJobs(): void {
    const finished = [...this.#jobs.values()].filter((j) => j.state !== 'running');
    for (const job of finished.slice(0, Math.max(0, finished.length - this.#limits.keepFinished))) {
      this.#jobs.delete(job.id);
      this.#listeners.delete(job.id);
    }
  }

  /**
   * For a graceful shutdown: waits up to `limitMs` for the running job, then cancels it and
   * waits up to `graceMs` more for it to stop. Resolves either way: closing the store after
   * that ends whatever the job still had in progress.
   */
  async drain(limitMs: number, graceMs = 5000): Promise<void> {
    const job = this.running;
    const control = job && this.#controls.get(job.id);
    if (!job || !control) return;
    const ended = await Promise.race([control.done.then(() => true), sleep(limitMs).then(() => false)]);
    if (ended) return;
    this.cancel(job.id, `The gateway shut down with the job still running after ${Math.round(limitMs / 1000)} s.`);
    await Promise.race([control.done, sleep(graceMs)]);
  }
}
