import { randomUUID } from 'node:crypto';
import { isMosaicError, openDatabase, redactText } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { execute, migrationSummary, prepare } from '@mosaic/copy-engine';
import type { CopyEvent } from '@mosaic/copy-engine';
import type { Tier } from '@mosaic/schema';
import { compare } from '@mosaic/verify';
import { GatewayJobError } from './errors.js';

export type JobState = 'running' | 'succeeded' | 'failed';

/** What the SSE stream sends: the copy engine's events, then one final report. */
export type JobEvent = CopyEvent | { readonly type: 'report'; readonly state: JobState; readonly report: unknown };

export interface Job {
  readonly id: string;
  readonly to: Tier;
  /** Redacted: no password ever leaves the job. */
  readonly target: string;
  readonly dryRun: boolean;
  state: JobState;
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
}

/**
 * Migration jobs out of the gateway's own store, one at a time. The store is the source, used
 * through the gateway's open connection (a PGlite store cannot be opened twice). The write
 * freeze is on from the moment a real (not dry-run) job starts until it ends, however it ends.
 */
export class JobManager {
  readonly #store: Database;
  readonly #jobs = new Map<string, Job>();
  readonly #listeners = new Map<string, Set<(event: JobEvent) => void>>();
  #frozenBy: string | null = null;

  constructor(store: Database) {
    this.#store = store;
  }

  get frozen(): boolean {
    return this.#frozenBy !== null;
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

  /** Starts a job and returns it at once; the work goes on in the background. */
  start(request: StartMigration): Job {
    const job: Job = {
      id: randomUUID(), to: request.to, target: redactText(request.targetUrl), dryRun: request.dryRun, state: 'running',
      startedAt: new Date().toISOString(), finishedAt: null, tables: new Map(), events: [], report: null, error: null,
    };
    this.#jobs.set(job.id, job);
    if (!request.dryRun) this.#frozenBy = job.id;
    void this.#run(job, request).finally(() => {
      if (this.#frozenBy === job.id) this.#frozenBy = null;
    });
    return job;
  }

  async #run(job: Job, request: StartMigration): Promise<void> {
    let target: Database | undefined;
    try {
      target = await openDatabase(request.targetUrl, { applicationName: 'mosaic gateway migrate-tier' });
      const options = { to: request.to, batchSize: 50_000, jobs: 2 };
      if (request.dryRun) {
        job.report = migrationSummary(await prepare(this.#store, target, options), undefined, true);
      } else {
        await prepare(this.#store, target, options); // refusals happen before anything is written
        const { plan, report } = await execute(this.#store, target, { ...options, hooks: { onEvent: (e) => this.#emit(job, e) } });
        if (!report.ok) throw report.error;
        const verification = await compare(this.#store, target);
        job.report = { ...migrationSummary(plan, report), verification };
        if (!verification.ok) throw new GatewayJobError('VERIFY_DIFFERENCES', 'Verification found differences: see the report.');
      }
      job.state = 'succeeded';
    } catch (error) {
      const e = error as { message?: unknown };
      job.error = { code: isMosaicError(error) ? error.code : 'UNEXPECTED', message: redactText(String(e?.message ?? error).split('\n')[0] ?? '') };
      job.state = 'failed';
    } finally {
      job.finishedAt = new Date().toISOString();
      await target?.close().catch(() => {});
      this.#emit(job, { type: 'report', state: job.state, report: job.report ?? { error: job.error } });
    }
  }

  /** Awaits the running job, if any (for a graceful shutdown). */
  async drain(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 100));
  }
}
