import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Tier } from './graph.js';
import { migrationsFolder } from './migrate.js';

/**
 * A foreign key or a secondary index that a bulk load can do without and put back afterwards,
 * as pg_restore does: checking a foreign key row by row, or inserting into an HNSW index one
 * vector at a time, costs far more than validating the constraint or building the index once
 * at the end.
 */
export interface LoadDdl {
  readonly kind: 'foreign-key' | 'index' | 'primary-key';
  readonly table: string;
  readonly name: string;
  /** The statement from the tier's migrations that creates it. */
  readonly sql: string;
  /** A foreign key's referenced table (undefined for an index or a primary key). */
  readonly references?: string | undefined;
}

const FOREIGN_KEY = /^ALTER TABLE "([^"]+)" ADD CONSTRAINT "([^"]+)" FOREIGN KEY .* REFERENCES "public"\."([^"]+)"/;
const INDEX = /^CREATE INDEX "([^"]+)" ON "([^"]+)"/;

/**
 * Every foreign key and non-unique index the tier's checked-in migrations create, with the
 * statement that creates it. The migrations are the single source of truth: a run that stopped
 * after dropping them recreates them from here, not from a catalog it no longer has.
 * Primary keys and unique constraints are never in this list (resume and upsert need them).
 */
export function loadDdl(tier: Tier): LoadDdl[] {
  const out: LoadDdl[] = [];
  for (const migration of readMigrationFiles({ migrationsFolder: migrationsFolder(tier) })) {
    for (const raw of migration.sql) {
      const sql = raw.trim().replace(/;$/, '');
      const fk = FOREIGN_KEY.exec(sql);
      if (fk) out.push({ kind: 'foreign-key', table: fk[1]!, name: fk[2]!, sql, references: fk[3]! });
      const index = INDEX.exec(sql);
      if (index) out.push({ kind: 'index', table: index[2]!, name: index[1]!, sql });
    }
  }
  return out;
}

const CREATE_TABLE = /^CREATE TABLE "([^"]+)" \(/;
const INLINE_KEY = /^\s*"([^"]+)" [^\n]*\bPRIMARY KEY\b/m;
const NAMED_KEY = /CONSTRAINT "([^"]+)" PRIMARY KEY\(([^)]+)\)/;

/**
 * The primary key of every public table the tier's migrations create, as the statement that
 * adds it back (`ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY`) under the name PostgreSQL gave
 * it: `<table>_pkey` for a key declared on its column, the declared name otherwise. Not part of
 * loadDdl: only a load by heap pages, which never looks a row up by key, may go without one
 * (copy-engine decides which tables); resume and upsert need it.
 */
export function primaryKeyDdl(tier: Tier): LoadDdl[] {
  const out: LoadDdl[] = [];
  for (const migration of readMigrationFiles({ migrationsFolder: migrationsFolder(tier) })) {
    for (const raw of migration.sql) {
      const sql = raw.trim();
      const table = CREATE_TABLE.exec(sql)?.[1];
      if (!table) continue;
      const named = NAMED_KEY.exec(sql);
      const inline = INLINE_KEY.exec(sql);
      const [name, columns] = named ? [named[1]!, named[2]!] : inline ? [`${table}_pkey`, `"${inline[1]!}"`] : [];
      if (!name) continue;
      out.push({ kind: 'primary-key', table, name, sql: `ALTER TABLE "${table}" ADD CONSTRAINT "${name}" PRIMARY KEY (${columns})` });
    }
  }
  return out;
}
