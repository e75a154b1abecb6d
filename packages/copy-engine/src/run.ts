import { randomUUID } from 'node:crypto';
import type { Database } from '@mosaic/connection';
import { applyMigrations, loadDdl, tableGraph } from '@mosaic/schema';
import { earlyForeignKeys, isVectorIndex, missingLoadDdl, relaxForLoad, restoreAfterLoad } from './constraints.js';
import type { RebuiltDdl } from './constraints.js';
import { tableLoad } from './copy-table.js';
import type { TableCopyResult, TableLoad } from './copy-table.js';
import { restoreDeferred } from './deferred.js';
import type { RunHooks } from './events.js';
import { finishRun, startRun } from './journal.js';
import { watchLockWaits } from './lock-waits.js';
import type { LockWaitOptions, LockWaitWatcher } from './lock-waits.js';
import type { Plan, PlannedTable, TableStrategy } from './plan.js';
import { relaxedOrder, schedule } from './schedule.js';
import { sessionPool } from './session-pool.js';
import { resetSequence } from './sequences.js';
import { openSourceReader } from './source.js';
import { ident } from './sql.js';
import { deleteGone, diffTable, inBuckets, touchedByCascades } from './sync.js';
import type { TableDiff } from './sync.js';

export type { RebuiltDdl } from './constraints.js';

export type TableStatus = 'copied' | 'failed' | 'not-started';

export interface TableReport {
  readonly table: string;
  /** copied: brought to the snapshot by its strategy (a converge table with nothing to move too). */
  readonly status: TableStatus;
  readonly strategy: TableStrategy['kind'];
  /** Rows copied by this run (a converge table: the rows of its differing buckets, upserted). */
  readonly rows: number;
  /** Target rows deleted because the source no longer has them. */
  readonly deleted: number;
  readonly sourceRows: number;
  readonly seconds: number;
}

export interface RunReport {
  readonly ok: boolean;
  readonly runId: string;
  readonly mode: Plan['mode'];
  readonly tables: readonly TableReport[];
  readonly rows: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly warnings: readonly string[];
  /** Foreign keys, indexes and primary keys dropped for the load and put back (none when the target kept them). */
  readonly rebuilt: readonly RebuiltDdl[];
  /** Set when ok is false: what stopped the run (a re-run resumes). */
  readonly error?: unknown;
}

export interface RunConnections {
  readonly source: Database;
  readonly target: Database;
}

export interface RunOptions {
  /** Checked after every table and before the journal is closed: throws to stop the run (lock lost). */
  assertLocked?: () => Promise<void>;
  /** Fail a COPY that delivers no byte for this long. Default 120 s. */
  stallMs?: number;
  /**
   * Stops the run (the caller's lock was lost): checked before each chunk commits (a flag, no
   * round trip), between steps and while COPY data streams; its reason becomes the run's error.
   */
  signal?: AbortSignal;
  /** Sent with every chunk's COMMIT: fails unless the run still holds its lock (HeldLock.fenceSql). */
  lockFence?: string;
  /**
   * A statement of the run that waits on a lock is reported (a `lock-wait` event naming who
   * blocks it) after a few seconds and every few seconds after; with `timeoutMs` (--lock-timeout)
   * it is cancelled once it has waited that long and the run fails with LOCK_TIMEOUT.
   */
  lockWaits?: LockWaitOptions;
}

/**
 * What the scheduler runs: a table copied by one job (`whole`), or, for a table that several
 * jobs copy at once (PlannedTable.jobs), one item per job (`part`, with the table's parents) and
 * a `finish` item under the table's own name whose parents are its parts: the count check, the
 * journal's done and the index build run once, after every part, and the table's children
 * (which wait on its name) start only then. The scheduler itself is unchanged.
 */
export interface WorkItem {
  readonly table: string;
  readonly parents: readonly string[];
  readonly of: PlannedTable;
  readonly kind: 'whole' | 'part' | 'finish';
}

export function workItems(tables: readonly PlannedTable[]): WorkItem[] {
  return tables.flatMap((t): WorkItem[] => {
    if (t.jobs <= 1) return [{ table: t.table, parents: t.parents, of: t, kind: 'whole' }];
    const parts = Array.from({ length: t.jobs }, (_, i): WorkItem => ({ table: `${t.table} (job ${i + 1})`, parents: t.parents, of: t, kind: 'part' }));
    return [...parts, { table: t.table, parents: [...t.parents, ...parts.map((p) => p.table)], of: t, kind: 'finish' }];
  });
}

/**
 * Carries out a plan: target schema, journal, every table (in parallel where the FK graph
 * allows), deferred FK columns, sequences, journal closed. Never throws for a failed table:
 * the report says which tables were copied and which were not (the caller exits non-zero).
 */
export async function run(plan: Plan, connections: RunConnections, hooks: RunHooks = {}, options: RunOptions = {}): Promise<RunReport> {
  const { source, target } = connections;
  const started = performance.now();
  const stallMs = options.stallMs ?? 120_000;
  const results = new Map<string, TableCopyResult>();
  const failed = new Set<string>();
  const runId = plan.runId ?? randomUUID();
  const rebuilt: RebuiltDdl[] = [];
  const diffs = new Map<string, TableDiff>();
  const deleted = new Map<string, number>();
  const analyzed = new Set<string>();
  // Whether a table needs fresh statistics: a loaded one does; a converged table whose change
  // stays under what makes autovacuum analyze it (10% of its rows, by default) keeps the ones it
  // has (analyzing all of them was a tenth of a converge re-run at 1% changed).
  const stale = (t: PlannedTable) => {
    const diff = diffs.get(t.table);
    if (!diff) return true;
    return ((results.get(t.table)?.rows ?? 0) + (deleted.get(t.table) ?? 0)) * 10 >= Math.max(diff.targetRows, 1);
  };
  let error: unknown;
  // Whatever must stop the run at once (the lock lost, a lock wait past its bound, a failed
  // index build) aborts this; every job hears it before its next commit.
  const stop = new AbortController();
  const watchers: LockWaitWatcher[] = [];
  const halt = (reason: unknown) => {
    if (stop.signal.aborted) return;
    stop.abort(reason);
    // A statement waiting on a lock would hold the stop up for as long as its blocker lives.
    for (const w of watchers) void w.cancelWaits();
  };
  if (options.signal?.aborted) halt(options.signal.reason);
  options.signal?.addEventListener('abort', () => halt(options.signal!.reason), { once: true });
  try {
    for (const [db, side] of [[target, 'target'], [source, 'source']] as const) {
      watchers.push(await watchLockWaits(db, side, options.lockWaits ?? {}, (wait) => hooks.onEvent?.({ type: 'lock-wait', ...wait }), halt));
    }
    stop.signal.throwIfAborted();
    hooks.onEvent?.({ type: 'phase', phase: 'schema' });
    await applyMigrations(target, plan.to, { beforeCommit: async () => hooks.failpoint?.('schema') });
    if (plan.mode !== 'resume') {
      await startRun(target, { runId, sourceInstance: plan.source.instanceId, sourceLocation: plan.source.location, sourceTier: plan.source.tier, targetTier: plan.to });
    }
    // Foreign keys and secondary indexes off while the plan says so (a fresh load, or the resume
    // of one): put back at the end. A role that may not drop them (the plan could not know)
    // loads with them on, deferring self-references and the users <-> teams cycle instead.
    const names = plan.tables.map((t) => t.table);
    const keyless = plan.tables.filter((t) => t.keyAfterLoad).map((t) => t.table);
    const relaxed = plan.relax && (await relaxForLoad(target, plan.to, names, keyless));
    // Every other table has its primary key before anything looks a row up by it (a converge, a
    // resume): a run stopped between a table's end and the build of its key left it off.
    rebuilt.push(...(await restoreAfterLoad(target, plan.to, relaxed ? names.filter((n) => !keyless.includes(n)) : names, ['primary-key'], stop.signal)));
    // With the foreign keys off, self-references and the users <-> teams cycle load as they are.
    const tables = relaxed ? plan.tables.map((t) => ({ ...t, deferred: [] })) : plan.tables;
    const builds: Promise<void>[] = [];
    const buildOf = new Map<string, Promise<void>>();
    let buildFailure: PromiseRejectedResult | undefined;
    const reader = await openSourceReader(source, names);
    const sessions = sessionPool(target);
    // With the foreign keys off, each goes back as soon as both of its tables are in.
    const early = relaxed ? earlyForeignKeys(target, plan.to, names, stop.signal, (e) => halt(e)) : undefined;
    const loads = new Map<string, TableLoad>();
    try {
      hooks.onEvent?.({ type: 'phase', phase: 'copy' });
      // Converge tables: first what differs (both sides' bucket checksums), then the rows the
      // source no longer has go, children first, in reverse MIGRATION_ORDER (see sync.ts: with
      // every foreign key on, no NO ACTION key sees an orphan and re-created unique values meet
      // no old copy), and only then does any table load or upsert.
      const converging = tables.filter((t) => t.strategy.kind === 'converge');
      if (converging.length > 0) {
        hooks.onEvent?.({ type: 'phase', phase: 'compare' });
        // Said per table as each ends: on a big store the checksums take minutes.
        const compared = async (table: PlannedTable) => {
          const began = performance.now();
          const diff = await diffTable(table, reader, target, plan.batchSize);
          hooks.onEvent?.({ type: 'table-compared', table: table.table, buckets: diff.buckets, differing: diff.differing, sourceRows: diff.sourceRows, targetRows: diff.targetRows, seconds: (performance.now() - began) / 1000 });
          return diff;
        };
        // Biggest first: the jobs end together instead of the biggest table's checksums running alone at the end.
        const biggestFirst = [...converging].sort((x, y) => y.rows - x.rows);
        await schedule(biggestFirst.map((t) => ({ ...t, parents: [] })), plan.jobs, async (table) => {
          diffs.set(table.table, await compared(table));
        });
        const hit = new Set<string>();
        for (const table of [...converging].reverse()) {
          stop.signal.throwIfAborted();
          const gone = await deleteGone(table, diffs.get(table.table)!, reader, target, stallMs, { signal: stop.signal, fence: options.lockFence });
          deleted.set(table.table, gone.deleted);
          if (gone.repointed > 0) hit.add(table.table);
        }
        // With the foreign keys off (a relaxed resume) nothing cascades.
        if (!relaxed && (hit.size > 0 || [...deleted.values()].some((n) => n > 0))) {
          // A cascade shows as fewer rows than the table's own deletes explain.
          for (const table of converging) {
            const [row] = await target.query<{ n: string }>(`select count(*)::text as n from "${table.table.replace(/"/g, '""')}"`);
            const diff = diffs.get(table.table)!;
            if (Number(row!.n) < diff.targetRows - (deleted.get(table.table) ?? 0)) hit.add(table.table);
          }
        }
        if (!relaxed && hit.size > 0) {
          const again = touchedByCascades(hit, tableGraph(plan.to).edges);
          await schedule(biggestFirst.filter((t) => again.has(t.table)).map((t) => ({ ...t, parents: [] })), plan.jobs, async (table) => {
            diffs.set(table.table, await compared(table));
          });
        }
      }
      const work = tables.map((t) => (t.strategy.kind === 'converge' ? { rows: diffs.get(t.table)!.sourceRowsToCopy, resumed: 0 } : { rows: t.rows, resumed: t.strategy.kind === 'resume' ? t.strategy.rowsCopied : 0 }));
      hooks.onEvent?.({ type: 'work', rows: work.reduce((n, w) => n + Math.max(w.rows, w.resumed), 0), resumedRows: work.reduce((n, w) => n + w.resumed, 0) });
      const slowIndexes = new Set(loadDdl(plan.to).filter(isVectorIndex).map((d) => d.table));
      const todo = relaxed ? relaxedOrder(tables, slowIndexes) : tables;
      const loadOf = (table: PlannedTable) => {
        let load = loads.get(table.table);
        if (!load) {
          const input = { diff: diffs.get(table.table), deleted: deleted.get(table.table) };
          load = tableLoad(table, { runId, source: reader, target, sessions, batchSize: plan.batchSize, stallMs, hooks, signal: stop.signal, fence: options.lockFence }, input);
          loads.set(table.table, load);
        }
        return load;
      };
      await schedule(workItems(todo), plan.jobs, async ({ of: table, kind }) => {
        try {
          const load = loadOf(table);
          if (kind !== 'finish') await load.job();
          if (kind === 'part') return;
          results.set(table.table, await load.finish());
          await options.assertLocked?.();
          // A loaded table's primary key (if it loaded without) and indexes (the HNSW one above
          // all) build while later tables load, then
          // its statistics are taken (after the indexes: ANALYZE samples their expressions too):
          // work pg_dump does not do, off the end of the run (measured: 0.6 s of a 7.7 s run at
          // scale 500 when every table was analyzed at the end).
          if (relaxed) {
            const build = restoreAfterLoad(target, plan.to, [table.table], ['primary-key', 'index'], stop.signal).then(async (r) => {
              rebuilt.push(...r);
              if (!stale(table)) return early?.ready(table.table);
              stop.signal.throwIfAborted();
              const session = await sessions.acquire();
              let clean = false;
              try {
                await session.exec(`analyze ${ident(table.table)}`);
                clean = true;
              } finally {
                await sessions.release(session, clean);
              }
              analyzed.add(table.table);
              early?.ready(table.table);
            });
            // Handled now: a build that fails while tables still load (the target went away, a
            // name taken) must not be an unhandled rejection, which would end the process; it
            // stops the run at once (the tables still loading roll back their chunk) and is its error.
            build.catch((e: unknown) => halt(e));
            builds.push(build);
            buildOf.set(table.table, build);
          }
        } catch (e) {
          failed.add(table.table);
          // Sibling jobs stop at their next chunk instead of running on to the end.
          halt(e);
          throw e;
        }
      });
      stop.signal.throwIfAborted();
      if (tables.some((t) => t.deferred.length > 0)) hooks.onEvent?.({ type: 'phase', phase: 'deferred' });
      for (const table of tables) {
        // Over rows that were there before (converge), only the differing buckets, every row of them.
        const diff = diffs.get(table.table);
        if (diff && diff.differing === 0) continue;
        for (const column of table.deferred) {
          await restoreDeferred(table, column, reader, target, stallMs, diff ? inBuckets(table, diff.depth, diff.groups.flatMap((g) => g.buckets)) : undefined, { signal: stop.signal, fence: options.lockFence });
        }
      }
      stop.signal.throwIfAborted();
      hooks.onEvent?.({ type: 'phase', phase: 'sequences' });
      for (const table of plan.tables) {
        // A table's key build holds ACCESS EXCLUSIVE (ADD PRIMARY KEY): the sequence's max() waits
        // for it here, not as a lock wait on the run's own build (which --lock-timeout would end).
        if (table.identity.length > 0) {
          await buildOf.get(table.table)?.catch(() => {});
          stop.signal.throwIfAborted();
        }
        for (const column of table.identity) {
          await resetSequence(table, column, reader, target);
          await hooks.failpoint?.(`sequences:${table.table}`);
        }
      }
    } finally {
      // A table that failed or was stopped before its finish() may still count its source rows
      // on a snapshot session: that ends before the run does (and before the snapshot's holder).
      await Promise.all([...loads.values()].map((l) => l.settled()));
      await reader.close();
      await sessions.close();
      // Every index build started ends before the run does, whatever happened meanwhile; then
      // every foreign key added early (a failure there stopped the run: its error is the run's).
      buildFailure = (await Promise.allSettled(builds)).find((b): b is PromiseRejectedResult => b.status === 'rejected');
      const keys = await early?.done().then((r) => ({ r }), (e: unknown) => ({ e }));
      if (keys && 'r' in keys) rebuilt.push(...keys.r);
      else if (keys && !buildFailure) buildFailure = { status: 'rejected', reason: keys.e };
    }
    if (buildFailure) throw buildFailure.reason;
    stop.signal.throwIfAborted();
    // Fresh statistics for what was loaded and not analyzed yet (the relaxed load analyzes each
    // table once its indexes are built).
    const unanalyzed = plan.tables.filter((t) => stale(t) && !analyzed.has(t.table));
    if (unanalyzed.length > 0) await target.exec(`analyze ${unanalyzed.map((t) => ident(t.table)).join(', ')}`);
    // Always: whatever a stopped run left dropped is put back, whoever dropped it.
    if ((await missingLoadDdl(target, plan.to, names)).length > 0) hooks.onEvent?.({ type: 'phase', phase: 'constraints' });
    rebuilt.push(...(await restoreAfterLoad(target, plan.to, names, undefined, stop.signal)));
    await options.assertLocked?.();
    stop.signal.throwIfAborted();
    hooks.onEvent?.({ type: 'phase', phase: 'finish' });
    await finishRun(target, runId, names);
  } catch (e) {
    // What stopped the run is its error, not what stopping it caused (a cancelled statement,
    // a rolled-back chunk).
    error = stop.signal.aborted ? stop.signal.reason : e;
  } finally {
    await Promise.all(watchers.map((w) => w.stop()));
  }
  const seconds = (performance.now() - started) / 1000;
  const tables = plan.tables.map((t): TableReport => {
    const r = results.get(t.table);
    const status: TableStatus = r ? 'copied' : failed.has(t.table) ? 'failed' : 'not-started';
    return { table: t.table, status, strategy: t.strategy.kind, rows: r?.rows ?? 0, deleted: r?.deleted ?? deleted.get(t.table) ?? 0, sourceRows: t.rows, seconds: r?.seconds ?? 0 };
  });
  const rows = tables.reduce((n, t) => n + t.rows, 0);
  return {
    ok: error === undefined,
    runId,
    mode: plan.mode,
    tables,
    rows,
    bytes: [...results.values()].reduce((n, r) => n + r.bytes, 0),
    seconds,
    rowsPerSecond: Math.round(rows / Math.max(seconds, 0.001)),
    warnings: plan.warnings,
    rebuilt,
    ...(error !== undefined ? { error } : {}),
  };
}
