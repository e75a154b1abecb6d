import type { LockWait } from './lock-waits.js';

/** What run() reports as it goes: rendered by the CLI, streamed by the gateway plugin. */
export type CopyEvent =
  /** A statement of the run has waited on a lock for a few seconds (again every few seconds while it waits). */
  | ({ readonly type: 'lock-wait' } & LockWait)
  | { readonly type: 'phase'; readonly phase: 'schema' | 'compare' | 'copy' | 'deferred' | 'sequences' | 'constraints' | 'finish' }
  /** Before the first table: the rows the run will move in all (a converge table: its differing buckets' rows) and those a resume finds in already. */
  | { readonly type: 'work'; readonly rows: number; readonly resumedRows: number }
  /** A converge table compared by bucket checksums (again after a cascade in the target touched it). */
  | { readonly type: 'table-compared'; readonly table: string; readonly buckets: number; readonly differing: number; readonly sourceRows: number; readonly targetRows: number; readonly seconds: number }
  | { readonly type: 'table-start'; readonly table: string; readonly rows: number; readonly resumedRows: number }
  | { readonly type: 'table-progress'; readonly table: string; readonly rowsDone: number; readonly rows: number; readonly bytes: number }
  | { readonly type: 'table-done'; readonly table: string; readonly rows: number; readonly bytes: number; readonly seconds: number; readonly resumed: boolean; readonly deleted: number };

export interface RunHooks {
  onEvent?: (event: CopyEvent) => void;
  /**
   * Called at named points (`schema`, `chunk:<table>:<n>` (the n-th chunk begun, from 0),
   * `chunks-at-once:<table>` (a chunk that ended its COPY while another job holds a chunk of the
   * same table open and one of it has committed), `table-done:<table>`, `sequences:<table>`):
   * the tests' way to crash a run exactly there. A no-op in production.
   */
  failpoint?: (name: string) => Promise<void> | void;
}
