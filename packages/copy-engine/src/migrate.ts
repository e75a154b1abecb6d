import type { Database } from '@mosaic/connection';
import { acquireAdvisoryLock } from '@mosaic/advisory-lock';
import type { HeldLock, WaitReport } from '@mosaic/advisory-lock';
import { detectDatabase } from '@mosaic/tier-detect';
import type { RunHooks } from './events.js';
import type { LockWaitOptions } from './lock-waits.js';
import { assertTargetUnchanged } from './converge.js';
import { readLatestRun } from './journal.js';
import { plan } from './plan.js';
import type { Plan, PlanContext, PlanOptions } from './plan.js';
import { missingLoadDdl } from './constraints.js';
import { copiedTables, MIGRATION_ORDER } from '@mosaic/schema';
import { run } from './run.js';
import type { RunReport } from './run.js';

/**
 * Detects both sides, reads the target's journal, and plans. Writes nothing. A converge re-run
 * into a target written since its finished run (a live target) is refused here, so a dry run
 * refuses too, unless `overwriteTargetChanges`.
 */
export async function prepare(source: Database, target: Database, options: PlanOptions): Promise<Plan> {
  // Both sides at once (a few catalog queries each and, on the source, a count of every table);
  // when both fail, the source's error is the one reported, as when they ran in turn.
  const [sd, td] = await Promise.allSettled([detectDatabase(source), detectDatabase(target)]);
  if (sd.status === 'rejected') throw sd.reason;
  if (td.status === 'rejected') throw td.reason;
  const [s, t] = [sd.value, td.value];
  const journal = t.schema.present ? await readLatestRun(target) : undefined;
  const p = plan(s, t, journal, options, await planContext(source, target, options.to, t.schema.present));
  if (p.mode === 'converge' && !options.overwriteTargetChanges) await assertTargetUnchanged(target, journal!, p.tables.map((x) => x.table));
  return p;
}

/** What the strategies depend on beyond detection (plan.ts PlanContext): one catalog query. */
async function planContext(source: Database, target: Database, to: PlanOptions['to'], schemaPresent: boolean): Promise<PlanContext> {
  const sourceExclusive = source.capabilities.exclusive;
  // An empty target gets its tables from this run, owned by this role.
  if (!schemaPresent) return { sourceExclusive, targetMissingForeignKeys: false, targetOwnsTables: true };
  const names = copiedTables(MIGRATION_ORDER);
  const [owns] = await target.query<{ ok: boolean | null }>(
    "select bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) as ok from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname = any(string_to_array($1, ','))",
    [names.join(',')],
  );
  const missing = await missingLoadDdl(target, to, names);
  return { sourceExclusive, targetMissingForeignKeys: missing.some((d) => d.kind === 'foreign-key'), targetOwnsTables: owns?.ok !== false };
}

export interface ExecuteOptions extends PlanOptions {
  lockTimeoutSeconds?: number | undefined;
  onWait?: (report: WaitReport) => void;
  /** Told the lock is held; returns what to undo when the holder is interrupted. */
  onLocked?: (lock: HeldLock) => (() => void) | void;
  /**
   * Runs under the lock, before the plan and the source snapshot: the caller freezes the
   * source's writers here (@mosaic/write-freeze), so the snapshot holds every write that was
   * acknowledged. Throwing ends the run before anything is written; the lock is released.
   */
  afterLock?: () => Promise<void>;
  hooks?: RunHooks;
  /** When lock waits during the run are reported (tests shorten them); the bound is lockTimeoutSeconds. */
  lockWaits?: Omit<LockWaitOptions, 'timeoutMs'>;
}

export interface Execution {
  /** The plan made under the lock (the target may have changed while waiting). */
  readonly plan: Plan;
  readonly report: RunReport;
}

/**
 * The write half of migrate-tier, shared by the CLI and the gateway plugin: takes the Mosaic
 * lock on the target, plans again under it, runs, and releases the lock whatever happens.
 * Throws a CopyEngineError when the target changed into something the run must refuse.
 */
export async function execute(source: Database, target: Database, options: ExecuteOptions): Promise<Execution> {
  const lock = await acquireAdvisoryLock(target, {
    timeoutSeconds: options.lockTimeoutSeconds,
    reportEveryMs: 3000,
    ...(options.onWait ? { onWait: options.onWait } : {}),
  });
  const undo = options.onLocked?.(lock);
  try {
    await options.afterLock?.();
    const p = await prepare(source, target, options);
    const report = await run(p, { source, target }, options.hooks ?? {}, {
      assertLocked: () => lock.assertHeld(),
      signal: lock.lost,
      lockFence: lock.fenceSql,
      lockWaits: { ...(options.lockTimeoutSeconds !== undefined ? { timeoutMs: options.lockTimeoutSeconds * 1000 } : {}), ...options.lockWaits },
    });
    return { plan: p, report };
  } finally {
    undo?.();
    // A run that failed because the target went away cannot unlock there either; the lock
    // ended with its session. Never let that mask the run's own report.
    await lock.release().catch(() => {});
  }
}
