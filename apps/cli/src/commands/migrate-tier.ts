import { parseLocation } from '@mosaic/connection';
import { describeStrategy, execute, migrationSummary, prepare } from '@mosaic/copy-engine';
import type { Plan, RunReport } from '@mosaic/copy-engine';
import type { Tier } from '@mosaic/schema';
import type { VerifyReport } from '@mosaic/verify';
import { describeHolder, MOSAIC_LOCK_KEY } from '@mosaic/advisory-lock';
import { CliError, UsageError } from '../errors.js';
import { EXIT } from '../exit.js';
import { withLocation } from '../open.js';
import type { ConnectArgs } from '../open.js';
import type { Output } from '../output.js';
import { progressRenderer } from '../progress.js';
import { confirm } from '../prompt.js';
import { onShutdown } from '../shutdown.js';
import { SourceFreeze } from '../source-freeze.js';
import type { FenceReport } from '../source-freeze.js';
import { differencesError, printVerify, runVerify } from './verify.js';

export interface MigrateArgs extends ConnectArgs {
  to: Tier;
  source: string;
  targetUrl: string;
  dryRun: boolean;
  yes: boolean;
  batchSize: number;
  jobs: number;
  lockTimeout?: number | undefined;
  verify: boolean;
  overwriteTargetChanges?: boolean | undefined;
  /** Seconds to wait for writes in flight and gateway acknowledgements when freezing the source. */
  freezeTimeout?: number | undefined;
}

const TAG = 'migrate-tier';

/** `1 row`, `2 rows`. */
export const rowCount = (n: number): string => `${n} ${n === 1 ? 'row' : 'rows'}`;

function validate(args: MigrateArgs): void {
  if (args.to === 'local') throw new UsageError('--to local is not a migration target: migrate-tier moves a store to --to standalone or --to federated.');
  if (!Number.isInteger(args.batchSize) || args.batchSize < 1) throw new UsageError(`--batch-size must be a whole number of at least 1 (got ${args.batchSize}).`);
  if (!Number.isInteger(args.jobs) || args.jobs < 1 || args.jobs > 32) throw new UsageError(`--jobs must be a whole number from 1 to 32 (got ${args.jobs}).`);
  if (args.freezeTimeout !== undefined && !(args.freezeTimeout > 0)) throw new UsageError(`--freeze-timeout must be a number of seconds above 0 (got ${args.freezeTimeout}).`);
  if (args.lockTimeout !== undefined && !(args.lockTimeout >= 0)) throw new UsageError(`--lock-timeout must be a number of seconds, 0 or more (got ${args.lockTimeout}).`);
  if (parseLocation(args.targetUrl).engine !== 'postgres') throw new UsageError('--target-url must be a postgresql:// URL: the standalone and federated tiers live in PostgreSQL.');
}

function printPlan(p: Plan, out: Output): void {
  out.data(`[${TAG}] Analyzing source tier: ${p.source.engine === 'pglite' ? 'pglite' : `postgres (${p.source.tier})`}`);
  out.data(`[${TAG}] Analyzing target tier: ${p.target.schemaPresent ? p.target.tier : `empty (becomes ${p.to})`}`);
  out.data(`[${TAG}] Target: ${p.target.location} (PostgreSQL ${p.target.serverVersion}), migrating to ${p.to}`);
  if (p.mode === 'fresh') out.data(`[${TAG}] Precondition: target is empty ✓`);
  if (p.mode === 'resume') out.data(`[${TAG}] Precondition: target holds an unfinished run from this source: resuming it ✓`);
  if (p.mode === 'converge') out.data(`[${TAG}] Precondition: target holds a finished migration from this source: re-running converges it (deletes, then upserts) ✓`);
  out.data(`[${TAG}] Plan (${p.jobs} ${p.jobs === 1 ? 'job' : 'jobs'}): ${p.relax ? 'foreign keys and secondary indexes off during the load, built and validated after' : 'foreign keys and indexes stay on'}`);
  for (const t of p.tables) out.data(`  ${t.table}: ${rowCount(t.rows)}: ${describeStrategy(t, p)}`);
  for (const s of p.skipped) out.data(`  ${s.table}: skipped (${rowCount(s.rows)}): ${s.reason}`);
  for (const w of p.warnings) out.data(`[${TAG}] NOTE: ${w}`);
}

function printReport(r: RunReport, out: Output): void {
  for (const t of r.tables) {
    const mark = t.status === 'copied' ? '✓' : t.status === 'failed' ? '✗ FAILED' : '- not started';
    const what = t.strategy === 'converge' ? `${rowCount(t.rows)} sent from differing buckets, ${t.deleted} deleted` : t.deleted > 0 ? `${rowCount(t.rows)}, ${t.deleted} deleted` : rowCount(t.rows);
    out.data(`  ${t.table}: ${what} ${mark}`);
  }
  for (const w of r.warnings) out.data(`[${TAG}] NOTE: ${w}`);
  const deleted = r.tables.reduce((n, t) => n + t.deleted, 0);
  if (r.ok && r.mode === 'converge') out.data(`[${TAG}] MIGRATION COMPLETE. Converged in ${r.seconds.toFixed(1)} s: ${rowCount(r.rows)} sent from buckets that differed (upserted where they differed), ${deleted} deleted; the rest was already identical.`);
  else if (r.ok) out.data(`[${TAG}] MIGRATION COMPLETE. ${rowCount(r.rows)} in ${r.seconds.toFixed(1)} s (${r.rowsPerSecond} rows/s)${deleted > 0 ? `; ${deleted} deleted` : ''}.`);
}

function jsonReport(p: Plan, r?: RunReport, dryRun = false, verification?: VerifyReport, fence?: FenceReport) {
  return JSON.stringify({ ...migrationSummary(p, r, dryRun), ...(verification ? { verification } : {}), ...(fence ? { fence } : {}) }, null, 2);
}

export async function migrateTierCommand(args: MigrateArgs, out: Output): Promise<number> {
  validate(args);
  const sourceLoc = parseLocation(args.source);
  const targetLoc = parseLocation(args.targetUrl);
  if (sourceLoc.engine === 'postgres' && targetLoc.engine === 'postgres' && sourceLoc.url === targetLoc.url) {
    throw new UsageError('--source and --target-url are the same database: pass the new database as --target-url.');
  }
  return withLocation(sourceLoc, { applicationName: `mosaic ${TAG} (source)`, readThrough: true, connectTimeout: args.connectTimeout, storeWait: { out, tag: TAG, timeoutSeconds: args.lockTimeout } }, (source) =>
    withLocation(targetLoc, { applicationName: `mosaic ${TAG}`, connectTimeout: args.connectTimeout }, async (target) => {
      const options = { to: args.to, batchSize: args.batchSize, jobs: args.jobs, overwriteTargetChanges: args.overwriteTargetChanges === true };
      const first = await prepare(source, target, options);
      if (!out.json) printPlan(first, out);
      if (args.dryRun) {
        if (out.json) out.data(jsonReport(first, undefined, true));
        else out.data(`[${TAG}] DRY-RUN COMPLETE (no data written). ${first.totalRows} total ${first.totalRows === 1 ? 'row' : 'rows'} would be migrated.`);
        return EXIT.OK;
      }
      if (!args.yes) {
        if (!process.stdin.isTTY) throw new CliError('USAGE', 'Refusing to write without confirmation: pass --yes (or run in a terminal to be asked). Nothing was written.');
        if (!(await confirm(`Migrate ${rowCount(first.totalRows)} from ${first.source.location} to ${first.target.location}?`))) {
          out.info(`[${TAG}] Cancelled. Nothing was written.`);
          return EXIT.USAGE;
        }
      }
      const progress = progressRenderer(out, TAG);
      // The source's writers are frozen under the target lock, before the snapshot; lifted if the
      // run fails or is cancelled, the source retired once the target is verified (DESIGN 5.10).
      const fence = new SourceFreeze(source, out, TAG, args.freezeTimeout ?? 30, args.lockTimeout);
      let announced = false;
      const { plan: p, report } = await execute(source, target, {
        ...options,
        lockTimeoutSeconds: args.lockTimeout,
        onWait: ({ holder, waitedMs }) => {
          if (!announced) out.info(`[${TAG}] Waiting for the Mosaic lock (key ${MOSAIC_LOCK_KEY}) on ${target.location.display}`);
          announced = true;
          out.info(`[${TAG}]   held by ${describeHolder(holder)}; waited ${Math.round(waitedMs / 1000)} s${args.lockTimeout !== undefined ? ` of ${args.lockTimeout}` : ''}`);
        },
        onLocked: (lock) => onShutdown(() => lock.release()),
        afterLock: fence.afterLock,
        hooks: { onEvent: progress.onEvent, ...(failpoint() ? { failpoint: failpoint()! } : {}) },
      }).catch(async (error: unknown) => {
        await fence.lift();
        throw error;
      }).finally(() => progress.stop());
      if (p.mode !== first.mode && !out.json) out.info(`[${TAG}] The target changed while waiting for the lock: ${p.mode === 'converge' ? 'it now holds this source\'s data; converging' : p.mode}.`);
      if (!out.json) printReport(report, out);
      if (!report.ok) {
        const lifted = await fence.lift();
        if (out.json) out.data(jsonReport(p, report, false, undefined, lifted));
        throw report.error;
      }
      if (!args.verify) {
        const frozen = await fence.leaveFrozen();
        if (out.json) out.data(jsonReport(p, report, false, undefined, frozen));
        return EXIT.OK;
      }
      out.info(`[${TAG}] Verifying the target against the source`);
      const verdict = await runVerify(source, target).catch(async (error: unknown) => {
        await fence.lift();
        throw error;
      });
      if (!out.json) printVerify(verdict, out, TAG);
      if (!verdict.ok) {
        const lifted = await fence.lift();
        if (out.json) out.data(jsonReport(p, report, false, verdict, lifted));
        throw differencesError(verdict);
      }
      const retired = await fence.retire(args.to, targetLoc);
      if (out.json) out.data(jsonReport(p, report, false, verdict, retired));
      return EXIT.OK;
    }));
}

/**
 * MOSAIC_FAILPOINT=<name> kills this process with SIGKILL at that point of the run: the
 * crash tests' way to stop exactly there (schema, chunk:<table>:<n>, table-done:<table>,
 * sequences:<table>, chunks-at-once:<table>: a chunk of a table that several jobs copy, ended
 * while another chunk of it is open and one has committed). Unset, it does nothing.
 */
function failpoint(): ((name: string) => void) | undefined {
  const at = process.env.MOSAIC_FAILPOINT;
  if (!at) return undefined;
  return (name) => {
    if (name === at) process.kill(process.pid, 'SIGKILL');
  };
}
