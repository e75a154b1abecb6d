import { getTableConfig } from 'drizzle-orm/pg-core';
import type { PgTable } from 'drizzle-orm/pg-core';
import * as base from './tiers/base.js';
import * as federated from './tiers/federated.js';

export type Tier = 'local' | 'standalone' | 'federated';
export const TIERS: readonly Tier[] = ['local', 'standalone', 'federated'];

export interface ColumnInfo {
  readonly name: string;
  readonly sqlType: string;
  readonly notNull: boolean;
  /** GENERATED ALWAYS AS (expr) STORED: never copied, the target computes it. */
  readonly generated: boolean;
  /** GENERATED ALWAYS/BY DEFAULT AS IDENTITY: copied with OVERRIDING SYSTEM VALUE, sequence advanced after. */
  readonly identity: boolean;
}

export interface ForeignKeyEdge {
  readonly name: string;
  /** The referencing (child) table. */
  readonly table: string;
  readonly columns: readonly string[];
  /** The referenced (parent) table. */
  readonly references: string;
  readonly referencedColumns: readonly string[];
  /** Every referencing column is nullable: the edge can be broken and restored. */
  readonly nullable: boolean;
  /** ON DELETE of the constraint ('no action' when the schema names none). */
  readonly onDelete: 'cascade' | 'set null' | 'set default' | 'restrict' | 'no action';
}

export interface TableInfo {
  readonly name: string;
  readonly primaryKey: readonly string[];
  readonly columns: readonly ColumnInfo[];
  readonly foreignKeys: readonly ForeignKeyEdge[];
}

export interface TableGraph {
  readonly tier: Tier;
  readonly tables: ReadonlyMap<string, TableInfo>;
  readonly edges: readonly ForeignKeyEdge[];
}

function isTable(value: unknown): value is PgTable {
  return typeof value === 'object' && value !== null && Symbol.for('drizzle:IsDrizzleTable') in value;
}

function describe(table: PgTable): TableInfo {
  const config = getTableConfig(table);
  const columns = config.columns.map((c): ColumnInfo => ({
    name: c.name,
    sqlType: c.getSQLType(),
    notNull: c.notNull,
    generated: c.generated !== undefined,
    identity: c.generatedIdentity !== undefined,
  }));
  const primaryKey = config.primaryKeys[0]?.columns.map((c) => c.name) ?? config.columns.filter((c) => c.primary).map((c) => c.name);
  const foreignKeys = config.foreignKeys.map((fk): ForeignKeyEdge => {
    const ref = fk.reference();
    const cols = ref.columns.map((c) => c.name);
    return {
      name: fk.getName(),
      table: config.name,
      columns: cols,
      references: getTableConfig(ref.foreignTable).name,
      referencedColumns: ref.foreignColumns.map((c) => c.name),
      nullable: ref.columns.every((c) => !c.notNull),
      onDelete: fk.onDelete ?? 'no action',
    };
  });
  return { name: config.name, primaryKey, columns, foreignKeys };
}

/** The tables of one tier as drizzle objects, keyed by SQL name. */
export function tierTables(tier: Tier): Map<string, PgTable> {
  const module = tier === 'federated' ? federated : base;
  const tables = new Map<string, PgTable>();
  for (const value of Object.values(module)) {
    if (isTable(value)) tables.set(getTableConfig(value).name, value);
  }
  return tables;
}

/** Tables, primary keys, columns and FK edges of a tier, read from the drizzle definitions. */
export function tableGraph(tier: Tier): TableGraph {
  const tables = new Map<string, TableInfo>();
  for (const [name, table] of [...tierTables(tier)].sort(([a], [b]) => a.localeCompare(b))) {
    tables.set(name, describe(table));
  }
  return { tier, tables, edges: [...tables.values()].flatMap((t) => t.foreignKeys) };
}
