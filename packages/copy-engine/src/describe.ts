import type { Plan, PlannedTable } from './plan.js';

const rows = (n: number) => `${n} ${n === 1 ? 'row' : 'rows'}`;

/** What a resume (or converge) re-checks of this table against the run's snapshot. */
export function recheckOf(table: PlannedTable): 'none' | 'whole table by bucket checksums' {
  return table.strategy.kind === 'converge' || table.strategy.kind === 'resume' ? 'whole table by bucket checksums' : 'none';
}

/**
 * One line of plan per table, for `--dry-run` and the run's own plan print: the strategy, its
 * chunks and what is re-checked (whether foreign keys and indexes are off is the plan's `relax`).
 */
export function describeStrategy(table: PlannedTable, plan: Pick<Plan, 'batchSize'>): string {
  const s = table.strategy;
  const jobs = table.jobs > 1 ? `, ${table.jobs} jobs at once` : '';
  switch (s.kind) {
    case 'fresh':
      return `fresh load in ${s.chunks === 'pages' ? 'heap-page' : 'key-ordered'} chunks of about ${plan.batchSize} rows${jobs}`;
    case 'resume':
      return `resume after the last key copied (${rows(s.rowsCopied)} in from the earlier run), then re-check the whole table by bucket checksums`;
    case 'restart':
      return `start over: ${rows(s.rowsCopied)} from the earlier run were copied by pages, which no longer name them; emptied and loaded again in heap-page chunks${jobs}`;
    case 'converge':
      return {
        rerun: 'converge: bucket checksums on both sides; in differing buckets, rows gone from the source deleted, then rows upserted (identical rows untouched)',
        'finished-earlier': 'finished by the earlier run, under an older snapshot: re-check by bucket checksums; differing buckets deleted and upserted',
        'constraints-kept': 'converge (the target keeps its foreign keys): bucket checksums; deletes children first, then upserts',
      }[s.why];
  }
}
