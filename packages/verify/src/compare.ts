import type { Database } from '@mosaic/connection';
import { copiedTables, MIGRATION_ORDER, tableGraph } from '@mosaic/schema';
import { detectDatabase } from '@mosaic/tier-detect';
import type { TableShape } from '@mosaic/copy-engine';
import { compareTable } from './compare-table.js';
import type { TableVerdict } from './compare-table.js';
import { embeddingsNull, foreignKeysMatch, sequencesPastMax, skippedTablesEmpty } from './rules.js';
import type { RuleVerdict } from './rules.js';
import { VerifyError } from './errors.js';

export interface VerifyReport {
  readonly ok: boolean;
  readonly source: string;
  readonly target: string;
  readonly tables: readonly TableVerdict[];
  readonly rules: readonly RuleVerdict[];
  /** Rows in tables found identical. */
  readonly identicalRows: number;
  readonly seconds: number;
}

export interface CompareOptions {
  /** Differing keys to list per kind and table. Default 10. */
  maxKeys?: number;
  onTable?: (verdict: TableVerdict) => void;
}

/**
 * Proves a target holds what the source holds: per copied table, counts and content
 * checksums (differences located by key); then the rules a migrated target must keep.
 */
export async function compare(source: Database, target: Database, options: CompareOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const [s, t] = await Promise.all([detectDatabase(source, { counts: false }), detectDatabase(target, { counts: false })]);
  if (!s.schema.present) throw new VerifyError('SOURCE_NO_SCHEMA', `The source ${s.location} has no Mosaic schema: point --source at the migrated store.`);
  if (!t.schema.present) throw new VerifyError('TARGET_NO_SCHEMA', `The target ${t.location} has no Mosaic schema: it was never migrated into.`);
  const sourceGraph = tableGraph(s.tier);
  const targetGraph = tableGraph(t.tier);
  const tables: TableVerdict[] = [];
  for (const name of copiedTables(MIGRATION_ORDER)) {
    const sTable = sourceGraph.tables.get(name)!;
    const tColumns = new Set(targetGraph.tables.get(name)!.columns.filter((c) => !c.generated).map((c) => c.name));
    const shape: TableShape = {
      table: name,
      key: sTable.primaryKey,
      columns: sTable.columns.filter((c) => !c.generated && tColumns.has(c.name)).map((c) => c.name),
    };
    const verdict = await compareTable(source, target, shape, options.maxKeys ?? 10);
    tables.push(verdict);
    options.onTable?.(verdict);
  }
  const rules: RuleVerdict[] = [await skippedTablesEmpty(target)];
  if (t.embeddings.column && !s.embeddings.column) rules.push(await embeddingsNull(target));
  rules.push(await sequencesPastMax(target, t.tier));
  rules.push(await foreignKeysMatch(target, t.tier));
  const ok = tables.every((v) => v.status === 'identical') && rules.every((r) => r.ok);
  return {
    ok,
    source: s.location,
    target: t.location,
    tables,
    rules,
    identicalRows: tables.filter((v) => v.status === 'identical').reduce((n, v) => n + v.sourceRows, 0),
    seconds: (performance.now() - started) / 1000,
  };
}
