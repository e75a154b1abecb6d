import type { Database, Session } from '@mosaic/connection';
import { loadDdl, MIGRATION_ORDER, readSchemaInfo, SCHEMA_VERSION } from '@mosaic/schema';
import type { LoadDdl } from '@mosaic/schema';
import { copyLine } from './copy-text.js';
import { dataset } from './dataset.js';
import type { DeferredUpdate, SeedOptions, TableRows } from './dataset.js';
import { SeedError } from './errors.js';

export interface SeedTableResult {
  readonly table: string;
  readonly rows: number;
}

export interface SeedResult {
  readonly tables: readonly SeedTableResult[];
  readonly totalRows: number;
  readonly seconds: number;
}

export type SeedProgress = (event: SeedTableResult) => void;

/** PGlite reads a whole COPY blob into memory first: feed it bounded chunks. */
const PGLITE_CHUNK_ROWS = 50_000;
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

function validate(options: SeedOptions): void {
  if (!Number.isInteger(options.scale) || options.scale < 1) {
    throw new SeedError('INVALID_OPTIONS', `--scale must be a whole number of at least 1 (got ${options.scale}).`);
  }
  if (options.seed !== undefined && (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff)) {
    throw new SeedError('INVALID_OPTIONS', `--seed must be a whole number from 0 to 4294967295 (got ${options.seed}).`);
  }
}

async function loadTable(tx: Session, table: TableRows): Promise<number> {
  const sql = `COPY ${quote(table.table)} (${table.columns.map(quote).join(', ')}) FROM STDIN`;
  let rows = 0;
  if (tx.capabilities.streamingCopyIn) {
    // One streamed COPY per table: generation and ingest overlap under backpressure.
    async function* lines() {
      let batch: string[] = [];
      for (const row of table.rows()) {
        batch.push(copyLine(row));
        rows++;
        if (batch.length === 1000) {
          yield batch.join('');
          batch = [];
        }
      }
      if (batch.length > 0) yield batch.join('');
    }
    await tx.copyFrom(sql, lines());
    return rows;
  }
  let batch: string[] = [];
  for (const row of table.rows()) {
    batch.push(copyLine(row));
    rows++;
    if (batch.length === PGLITE_CHUNK_ROWS) {
      await tx.copyFrom(sql, [batch.join('')]);
      batch = [];
    }
  }
  if (batch.length > 0) await tx.copyFrom(sql, [batch.join('')]);
  return rows;
}

async function applyDeferred(tx: Session, update: DeferredUpdate): Promise<void> {
  for (let at = 0; at < update.pairs.length; at += 1000) {
    const pairs = update.pairs.slice(at, at + 1000);
    const values = pairs.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
    await tx.query(
      `UPDATE ${quote(update.table)} AS t SET ${quote(update.column)} = v.value::uuid FROM (VALUES ${values}) AS v(key, value) WHERE t.${quote(update.keyColumn)} = v.key`,
      pairs.flat(),
    );
  }
}

/** This role owns every Mosaic table (it may drop and recreate their constraints and indexes). */
async function ownsTables(db: Database): Promise<boolean> {
  const [row] = await db.query<{ ok: boolean | null }>(
    "select bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) as ok from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname = any(string_to_array($1, ','))",
    [MIGRATION_ORDER.join(',')],
  );
  return row?.ok === true;
}

/** The indexes first (memory enough for an HNSW graph to fit), then the foreign keys, each checked against every row once. */
async function restore(tx: Session, ddl: readonly LoadDdl[]): Promise<void> {
  if (ddl.length === 0) return;
  // PGlite keeps its default: its WASM heap is small, and a local store has no vector index.
  if (!tx.capabilities.exclusive) await tx.exec("SET LOCAL maintenance_work_mem = '1GB'");
  for (const d of [...ddl.filter((x) => x.kind === 'index'), ...ddl.filter((x) => x.kind === 'foreign-key')]) await tx.exec(d.sql);
}

/**
 * Fills an empty Mosaic store with `dataset(options)`, in one transaction: a failure leaves
 * the store as it was. Refuses a store without the schema or with any row in it.
 */
export async function seed(db: Database, options: SeedOptions, onProgress?: SeedProgress): Promise<SeedResult> {
  validate(options);
  const started = performance.now();
  const info = await readSchemaInfo(db);
  const where = db.location.display;
  if (!info) throw new SeedError('NO_SCHEMA', `${where} has no Mosaic schema: run "mosaic storage init --url ${where}" first.`);
  if (info.version > SCHEMA_VERSION) {
    throw new SeedError('SCHEMA_TOO_NEW', `${where} holds Mosaic schema v${info.version}, newer than this tool's v${SCHEMA_VERSION}: upgrade the mosaic tool.`);
  }
  const nonEmpty = await db.query<{ t: string }>(MIGRATION_ORDER.map((t) => `select '${t}' as t where exists (select 1 from ${quote(t)})`).join(' union all '));
  if (nonEmpty.length > 0) {
    const names = nonEmpty.map((r) => r.t);
    const which = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more tables` : names.join(', ');
    throw new SeedError('NOT_EMPTY', `${where} already has data (${which}): seed fills only an empty store; init a new one.`);
  }
  const [embedding] = await db.query<{ dims: number }>(
    "select atttypmod as dims from pg_attribute where attrelid = to_regclass('public.insights') and attname = 'embedding' and not attisdropped",
  );
  const data = dataset({ ...options, vectors: embedding !== undefined, ...(embedding ? { dimensions: embedding.dims } : {}) });

  // As a bulk load should (and migrate-tier does): the foreign keys and secondary indexes go for
  // the load and come back at its end, all in the seed's one transaction, so a failure or a kill
  // leaves the store as it was. An HNSW index kept during the load is updated vector by vector:
  // scale 1000 of a federated store took about 30 min that way. A role that does not own the
  // tables loads with them on.
  const relax = (await ownsTables(db)) ? loadDdl(info.tier) : [];
  const results: SeedTableResult[] = [];
  await db.transaction(async (tx) => {
    for (const d of relax) await tx.exec(d.kind === 'foreign-key' ? `ALTER TABLE ${quote(d.table)} DROP CONSTRAINT ${quote(d.name)}` : `DROP INDEX ${quote(d.name)}`);
    for (const table of data.tables) {
      const rows = await loadTable(tx, table);
      results.push({ table: table.table, rows });
      onProgress?.({ table: table.table, rows });
    }
    for (const update of data.deferred()) await applyDeferred(tx, update);
    // agent_logs ids were given explicitly (with gaps): move the identity past them.
    await tx.query("select setval(pg_get_serial_sequence('agent_logs', 'id'), (select max(id) from agent_logs))");
    await restore(tx, relax);
  });
  await db.exec('ANALYZE');
  const order = new Map<string, number>(MIGRATION_ORDER.map((t, i) => [t, i]));
  results.sort((a, b) => order.get(a.table)! - order.get(b.table)!);
  return { tables: results, totalRows: results.reduce((n, r) => n + r.rows, 0), seconds: (performance.now() - started) / 1000 };
}
