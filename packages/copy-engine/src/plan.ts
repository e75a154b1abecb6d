import { copiedTables, DEFERRED_EDGES, MIGRATION_ORDER, SKIPPED_TABLES, tableGraph } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import type { Detection } from '@mosaic/tier-detect';
import { CopyEngineError } from './errors.js';
import type { JournalRun, JournalTable } from './journal.js';

export interface PlanOptions {
  /** The tier the target is asked to be. */
  readonly to: Tier;
  /** Rows per chunk: one transaction, one journal entry. */
  readonly batchSize: number;
  /** Tables copied at once (their parents done). */
  readonly jobs: number;
  /**
   * A converge re-run into a target written since its finished run replaces those writes
   * (otherwise prepare() refuses with TARGET_CHANGED_SINCE_RUN).
   */
  readonly overwriteTargetChanges?: boolean | undefined;
}

export interface PlannedTable {
  readonly table: string;
  readonly rows: number;
  /** Columns copied (generated columns left out; the target's extra columns stay NULL). */
  readonly columns: readonly string[];
  readonly primaryKey: readonly string[];
  readonly keyTypes: readonly string[];
  /** SQL type of every copied column (for NULL casts and staging tables). */
  readonly columnTypes: Readonly<Record<string, string>>;
  /** Columns loaded NULL and restored after every table is in (self-references, the cycle). */
  readonly deferred: readonly string[];
  readonly identity: readonly string[];
  /** Parents among the copied tables, for the parallel scheduler. */
  readonly parents: readonly string[];
  /**
   * Columns of ON DELETE NO ACTION foreign keys: a converge run's delete pass also deletes a
   * target row whose value there differs from the source's (it is upserted back afterwards),
   * so that the parent it still references can be deleted.
   */
  readonly noActionColumns: readonly string[];
  /** How the run brings this table to the snapshot: decided here, applied by run() as is. */
  readonly strategy: TableStrategy;
  /** Its foreign keys and secondary indexes are off while it loads, and built again after (Plan.relax). */
  readonly relaxed: boolean;
  /**
   * Its primary key too is off while it loads and is added once its rows are in, before its
   * indexes and foreign keys, as pg_restore does (measured on 600k messages, binary COPY: 0.4-4.2 s,
   * median 2.0 s, of one backend's CPU saved per load, for a 0.4 s build): a relaxed table loaded by heap pages
   * (fresh, or started over), which no journal entry or chunk names by key, and that no table
   * left out of the copy references (sessions -> users keeps users' key).
   */
  readonly keyAfterLoad: boolean;
  /**
   * Jobs that copy this table's heap-page ranges at once, inside the one snapshot (each its own
   * target session, each chunk its own transaction): more than 1 only for a page-chunked table
   * of more than one chunk (from PostgreSQL up to --jobs, from PGlite up to PGLITE_TABLE_JOBS),
   * so that one table that dominates (messages) does not leave the other jobs idle. 1 otherwise.
   */
  readonly jobs: number;
}

/**
 * What the run does to one table:
 * - `fresh`: the target table is empty; the rows are COPYed straight in, in heap-page chunks
 *   (`pages`: ctid ranges, read in page order: a locked PGlite store, or a PostgreSQL source of
 *   version 14 or later, inside its exported snapshot) or key-ordered chunks (`keys`: a
 *   PostgreSQL source before 14, which has no TID range scan: each ctid range would read the
 *   whole table).
 * - `resume`: a key-ordered copy stopped after `after`; it goes on after that key, and then the
 *   whole table is re-checked against this run's snapshot (`converge`'s checksums), since the
 *   part copied before the stop came from an earlier snapshot.
 * - `restart`: a page-chunked copy stopped (pages name no rows once the store has changed): the
 *   table is emptied and copied again, by pages, in the transaction that resets its journal.
 * - `converge`: the rows are there from an earlier snapshot (a finished run, a table finished
 *   by the stopped run, or a load that keeps its foreign keys): per-bucket checksums of both
 *   sides name what differs, and only those buckets move: target rows the source no longer has
 *   are deleted (all tables, children first), then the source's rows there are upserted.
 */
export type TableStrategy =
  | { readonly kind: 'fresh'; readonly chunks: 'pages' | 'keys' }
  | { readonly kind: 'resume'; readonly after: readonly string[]; readonly rowsCopied: number }
  | { readonly kind: 'restart'; readonly rowsCopied: number }
  | { readonly kind: 'converge'; readonly why: 'rerun' | 'finished-earlier' | 'constraints-kept' };

/** What prepare() learns about both sides beyond detection, for the strategies. */
export interface PlanContext {
  /**
   * Nothing else writes to the source while the run holds it (a PGlite store): read by pages
   * whatever its version (a PostgreSQL source inside its snapshot from 14 on, see pageReads).
   */
  readonly sourceExclusive: boolean;
  /** The target lacks foreign keys of the load now (an earlier load dropped them and stopped). */
  readonly targetMissingForeignKeys: boolean;
  /** This role owns the target's Mosaic tables (or will create them): it may drop and rebuild their constraints. */
  readonly targetOwnsTables: boolean;
}

const DEFAULT_CONTEXT: PlanContext = { sourceExclusive: false, targetMissingForeignKeys: false, targetOwnsTables: true };

export type PlanMode = 'fresh' | 'resume' | 'converge';

export interface Plan {
  readonly source: { readonly location: string; readonly engine: 'pglite' | 'postgres'; readonly tier: Tier; readonly instanceId: string; readonly serverVersion: string };
  readonly target: { readonly location: string; readonly tier: Tier; readonly serverVersion: string; readonly schemaPresent: boolean };
  readonly to: Tier;
  /** fresh: empty target; resume: an unfinished run from this source; converge: re-run over a finished one (upsert). */
  readonly mode: PlanMode;
  readonly runId: string | null;
  /**
   * Foreign keys and secondary indexes dropped for the load and built again at the end: a fresh
   * load by a role that owns the tables, and the resume of one (whose target lacks them). A
   * converge run keeps them, and orders its deletes and upserts by the foreign keys instead.
   */
  readonly relax: boolean;
  readonly tables: readonly PlannedTable[];
  readonly skipped: ReadonlyArray<{ readonly table: string; readonly rows: number; readonly reason: string }>;
  readonly totalRows: number;
  readonly warnings: readonly string[];
  readonly batchSize: number;
  readonly jobs: number;
}

export const NO_VECTOR_NOTE = 'Source tier has no pgvector support. insights.embedding will be NULL on all migrated rows.';

/**
 * Decides what a migration will do, from what was detected on both sides and the target's
 * journal. Pure: no I/O. Throws CopyEngineError for every refusal, before anything is written.
 */
export function plan(source: Detection, target: Detection, journal: JournalRun | undefined, options: PlanOptions, context: PlanContext = DEFAULT_CONTEXT): Plan {
  const { to } = options;
  if (to === 'local' || target.engine !== 'postgres') {
    throw new CopyEngineError('UNSUPPORTED_TARGET', `migrate-tier moves a store to a PostgreSQL target (--to standalone or --to federated); ${target.location} is ${target.engine === 'pglite' ? 'a PGlite directory' : 'not one'}.`);
  }
  if (!source.schema.present) {
    throw new CopyEngineError('SOURCE_NO_SCHEMA', `The source ${source.location} has no Mosaic schema: point --source at the store to migrate.`);
  }
  if (source.schema.state !== 'current') {
    const fix = source.schema.state === 'older' ? `upgrade it first: mosaic storage init --url ${source.location}` : 'upgrade the mosaic tool';
    throw new CopyEngineError('SOURCE_SCHEMA_MISMATCH', `The source holds Mosaic schema v${source.schema.version}, this tool v${source.schema.toolVersion}: ${fix}.`);
  }
  if (source.schema.instanceId && source.schema.instanceId === target.schema.instanceId) {
    throw new CopyEngineError('SAME_LOCATION', `Source and target are the same store (${source.location}): pass a different --target-url.`);
  }
  if (to === 'federated' && !target.pgvector.installed) {
    if (!target.pgvector.available) {
      throw new CopyEngineError('VECTOR_UNAVAILABLE', `--to federated needs pgvector, and the server at ${target.location} does not have it: install it (tools/provision-services.sh on Debian), or migrate --to standalone.`);
    }
    if (!target.pgvector.creatable) {
      throw new CopyEngineError('VECTOR_NEEDS_SUPERUSER', `--to federated needs the vector extension in ${target.location}, and this role may not create it; a superuser must run, in that database: CREATE EXTENSION IF NOT EXISTS vector;`);
    }
  }
  if (to !== 'federated' && source.embeddings.nonNull > 0) {
    throw new CopyEngineError('DOWNGRADE_DROPS_EMBEDDINGS', `The source holds ${source.embeddings.nonNull} embeddings, and --to ${to} has no vector column: they would be lost. Migrate --to federated.`);
  }
  if (target.schema.present && target.tier !== to) {
    throw new CopyEngineError('TIER_MISMATCH', `The target ${target.location} already holds a ${target.tier} Mosaic schema, not ${to}: use an empty database, or --to ${target.tier}.`);
  }
  if (target.schema.present && target.schema.state === 'newer') {
    throw new CopyEngineError('SOURCE_SCHEMA_MISMATCH', `The target holds Mosaic schema v${target.schema.version}, newer than this tool's v${target.schema.toolVersion}: upgrade the mosaic tool.`);
  }

  const copied = copiedTables(MIGRATION_ORDER);
  const targetRows = copied.reduce((n, t) => n + (target.rowCounts[t] ?? 0), 0);
  const fromThisSource = journal !== undefined && journal.sourceInstance === source.schema.instanceId;
  let mode: PlanMode = 'fresh';
  if (fromThisSource) mode = journal.status === 'running' ? 'resume' : 'converge';
  else if (targetRows > 0) {
    const other = journal ? ` (migrated from ${journal.sourceLocation})` : '';
    throw new CopyEngineError('TARGET_NOT_EMPTY', `The target ${target.location} already holds ${targetRows} Mosaic rows${other}, not from this source: migrate into an empty database.`);
  }

  const relax = context.targetOwnsTables && (mode === 'fresh' || (mode === 'resume' && context.targetMissingForeignKeys));
  const sourceGraph = tableGraph(source.tier);
  const targetGraph = tableGraph(to);
  const referencedFromSkipped = new Set(Object.keys(SKIPPED_TABLES).flatMap((t) => targetGraph.tables.get(t)?.foreignKeys.map((fk) => fk.references) ?? []));
  const tables = copied.map((name): PlannedTable => {
    const s = sourceGraph.tables.get(name)!;
    const t = targetGraph.tables.get(name)!;
    const targetColumns = new Set(t.columns.filter((c) => !c.generated).map((c) => c.name));
    const columns = s.columns.filter((c) => !c.generated && targetColumns.has(c.name) && !(c.name === 'embedding' && !source.embeddings.column)).map((c) => c.name);
    const keyTypes = s.primaryKey.map((k) => s.columns.find((c) => c.name === k)!.sqlType);
    const parents = [...new Set(s.foreignKeys.filter((fk) => fk.references !== name && copied.includes(fk.references) && !DEFERRED_EDGES.some((d) => d.table === name && d.column === fk.columns[0])).map((fk) => fk.references))];
    const journalTable = mode === 'resume' ? journal!.tables.get(name) : undefined;
    const strategy = strategyOf(mode, relax, journalTable, pageReads(source, context), target.rowCounts[name] ?? 0);
    const rows = source.rowCounts[name] ?? 0;
    return {
      strategy,
      relaxed: relax,
      keyAfterLoad: relax && byPages(strategy) && !referencedFromSkipped.has(name),
      jobs: tableJobs(strategy, rows, options, context),
      table: name,
      rows,
      columns,
      primaryKey: s.primaryKey,
      keyTypes,
      columnTypes: Object.fromEntries(s.columns.map((c) => [c.name, c.sqlType])),
      deferred: DEFERRED_EDGES.filter((d) => d.table === name).map((d) => d.column),
      identity: s.columns.filter((c) => c.identity).map((c) => c.name),
      parents,
      noActionColumns: [...new Set(s.foreignKeys.filter((fk) => (fk.onDelete === 'no action' || fk.onDelete === 'restrict') && copied.includes(fk.references)).flatMap((fk) => fk.columns))]
        .filter((c) => !s.primaryKey.includes(c)),
    };
  });
  const skipped = Object.entries(SKIPPED_TABLES).map(([table, reason]) => ({ table, rows: source.rowCounts[table] ?? 0, reason: reason! }));
  const warnings: string[] = [];
  if (to === 'federated' && !source.embeddings.column) warnings.push(NO_VECTOR_NOTE);
  return {
    source: { location: source.location, engine: source.engine, tier: source.tier, instanceId: source.schema.instanceId!, serverVersion: source.serverVersion },
    target: { location: target.location, tier: target.tier, serverVersion: target.serverVersion, schemaPresent: target.schema.present },
    to,
    mode,
    runId: mode === 'resume' ? journal!.runId : null,
    relax,
    tables,
    skipped,
    totalRows: tables.reduce((n, t) => n + t.rows, 0),
    warnings,
    batchSize: options.batchSize,
    jobs: options.jobs,
  };
}

/**
 * Whether a fresh table is read in heap-page (ctid range) chunks: a locked PGlite store (nothing
 * moves its rows), or a PostgreSQL source of version 14 or later. There the rows a snapshot sees
 * do not move for as long as it is held (VACUUM keeps what it can see, an UPDATE writes a new
 * version elsewhere), and the run's snapshot-holding transaction takes ACCESS SHARE locks on the
 * copied tables (source.ts), so no VACUUM FULL, CLUSTER or rewriting ALTER can move them under
 * it: ctid ranges of that snapshot are a stable order, read in page order (a key range on random
 * UUIDs reads the heap at random: measured 1.5-2x the cost of the same rows by ctid) and with no
 * boundary query per chunk. PostgreSQL 13 and older have no TID range scan (each range would be
 * a scan of the whole table): key-ordered chunks there.
 */
function pageReads(source: Detection, context: PlanContext): boolean {
  return context.sourceExclusive || Number.parseInt(source.serverVersion, 10) >= 14;
}

/**
 * How many jobs copy one table's page ranges at once: a page-chunked table (fresh or started
 * over) of more than one chunk from a PostgreSQL source gets every job of the run, so the
 * biggest table no longer sets the run's length alone; its chunks are handed out one at a time,
 * so a job that joins late just takes what is left. A PGlite source too: its one thread exports
 * every chunk (in turn, about a sixth of the time the target takes to ingest one), and the jobs'
 * target sessions ingest them at once, which is where the time goes (the server computes every
 * row's generated columns); each job holds at most two chunks.
 */
function tableJobs(strategy: TableStrategy, rows: number, options: PlanOptions, context: PlanContext): number {
  if (!byPages(strategy)) return 1;
  const jobs = context.sourceExclusive ? Math.min(options.jobs, PGLITE_TABLE_JOBS) : options.jobs;
  return Math.max(1, Math.min(jobs, Math.ceil(rows / Math.max(options.batchSize, 1))));
}

/**
 * At most this many jobs on one table from PGlite: each holds two chunks in memory, and the
 * store's one thread exports a chunk in about a sixth of the time the target ingests it, so more
 * jobs than that cannot be kept fed; 4 leaves the thread headroom.
 */
export const PGLITE_TABLE_JOBS = 4;

/** A table loaded in heap-page chunks: fresh by pages, or started over (which loads by pages). */
export const byPages = (strategy: TableStrategy): boolean => (strategy.kind === 'fresh' && strategy.chunks === 'pages') || strategy.kind === 'restart';

/** The strategy of one table (see TableStrategy), from the run's mode and its journal entry. */
function strategyOf(mode: PlanMode, relax: boolean, journal: JournalTable | undefined, byPages: boolean, targetRows: number): TableStrategy {
  const fresh: TableStrategy = { kind: 'fresh', chunks: byPages ? 'pages' : 'keys' };
  if (mode === 'fresh') return fresh;
  if (mode === 'converge') return { kind: 'converge', why: 'rerun' };
  // A resumed load that keeps its foreign keys (a stopped converge run, or a role that could not
  // drop them) may hold rows anywhere: every table that has any converges, deletes ordered by
  // the keys; an empty one loads fresh (comparing it would re-send it bucket by bucket).
  if (!relax) return targetRows === 0 && journal?.status !== 'done' ? fresh : { kind: 'converge', why: 'constraints-kept' };
  if (!journal) return fresh;
  if (journal.status === 'done') return { kind: 'converge', why: 'finished-earlier' };
  // Key chunks (a source before PostgreSQL 14, or a run of an earlier version of this tool) go on
  // after their last key.
  if (journal.lastKey) return { kind: 'resume', after: journal.lastKey, rowsCopied: journal.rowsCopied };
  // Pages name no rows across snapshots: a page-chunked copy that committed anything starts over.
  if (journal.byPages) return { kind: 'restart', rowsCopied: journal.rowsCopied };
  return fresh;
}
