export { plan, NO_VECTOR_NOTE } from './plan.js';
export type { Plan, PlanMode, PlanOptions, PlannedTable } from './plan.js';
export { run } from './run.js';
export type { RunConnections, RunOptions, RunReport, TableReport, TableStatus } from './run.js';
export type { CopyEvent, RunHooks } from './events.js';
export { readLatestRun } from './journal.js';
export type { JournalRun, JournalTable } from './journal.js';
export { CopyEngineError } from './errors.js';
export type { CopyEngineErrorCode } from './errors.js';
