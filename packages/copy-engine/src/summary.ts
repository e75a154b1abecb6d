import { describeStrategy, recheckOf } from './describe.js';
import type { Plan } from './plan.js';
import type { RunReport } from './run.js';

/**
 * The machine-readable account of a migration: the plan and, once run, the result. The CLI's
 * `--json` document and the gateway plugin's final event are both this (plus a verification).
 */
export function migrationSummary(plan: Plan, report?: RunReport, dryRun = false) {
  const error = report?.error as { code?: string; message?: string } | undefined;
  return {
    dryRun,
    source: plan.source,
    target: plan.target,
    to: plan.to,
    mode: plan.mode,
    relax: plan.relax,
    tables: plan.tables.map((t) => ({ table: t.table, rows: t.rows, strategy: t.strategy, relaxed: t.relaxed, keyAfterLoad: t.keyAfterLoad, jobs: t.jobs, recheck: recheckOf(t), plan: describeStrategy(t, plan) })),
    skipped: plan.skipped,
    totalRows: plan.totalRows,
    warnings: plan.warnings,
    ...(report
      ? {
          result: {
            ok: report.ok, runId: report.runId, tables: report.tables, rows: report.rows, seconds: report.seconds, rowsPerSecond: report.rowsPerSecond, rebuilt: report.rebuilt,
            ...(error ? { error: { code: error.code ?? 'UNEXPECTED', message: error.message ?? String(error) } } : {}),
          },
        }
      : {}),
  };
}

export type MigrationSummary = ReturnType<typeof migrationSummary>;
