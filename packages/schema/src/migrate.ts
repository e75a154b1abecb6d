import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Database, Queryable } from '@mosaic/connection';
import { isConnectionError } from '@mosaic/connection';
import { SchemaError } from './errors.js';
import type { Tier } from './graph.js';
import { readSchemaInfo, SCHEMA_VERSION } from './version.js';

/** Serialises concurrent `init`s of one PostgreSQL database (transaction-scoped, so no leak). */
// "Mosaic" + 2. Not the run lock (+1, @mosaic/advisory-lock): a run holds that one while it applies
// the schema on another connection.
export const MIGRATE_LOCK_KEY = 0x4d6f7361_69630002n;

export function migrationsFolder(tier: Tier): string {
  return fileURLToPath(new URL(`../drizzle/${tier}`, import.meta.url));
}

export interface MigrationResult {
  readonly tier: Tier;
  /** Migrations applied by this call: 0 when the database was already up to date. */
  readonly applied: number;
  readonly total: number;
}

/** pgvector must be available, and installable by this role, before the federated schema. */
async function checkVector(db: Queryable, display: string): Promise<void> {
  const [row] = await db.query<{ available: boolean; installed: boolean; superuser: boolean; trusted: boolean }>(`
    select exists(select 1 from pg_available_extensions where name = 'vector') as available,
           exists(select 1 from pg_extension where extname = 'vector') as installed,
           coalesce((select rolsuper from pg_roles where rolname = current_user), false) as superuser,
           coalesce((select trusted from pg_available_extension_versions v
                      join pg_available_extensions a on a.name = v.name and a.default_version = v.version
                     where v.name = 'vector'), false) as trusted`);
  if (!row?.available) {
    throw new SchemaError('VECTOR_UNAVAILABLE', `The federated tier needs pgvector, and the server at ${display} does not have it: install it (tools/provision-services.sh on Debian) or choose --tier standalone.`);
  }
  if (!row.installed && !row.superuser && !row.trusted) {
    throw new SchemaError('VECTOR_NEEDS_SUPERUSER', `pgvector is available at ${display} but this role may not create it; a superuser must run, in that database: CREATE EXTENSION IF NOT EXISTS vector;`);
  }
}

/**
 * Applies a tier's checked-in migrations in one transaction. Records them in drizzle's own
 * table (drizzle.__drizzle_migrations), so drizzle's migrators agree on what is applied;
 * re-applying is a no-op. Refuses a database initialised for another tier or by newer code.
 */
export interface ApplyOptions {
  /** Runs inside the migration transaction after the last pending migration (tests crash here). */
  beforeCommit?: () => Promise<void>;
}

export async function applyMigrations(db: Database, tier: Tier, options: ApplyOptions = {}): Promise<MigrationResult> {
  const migrations = readMigrationFiles({ migrationsFolder: migrationsFolder(tier) });
  const display = db.location.display;
  const existing = await readSchemaInfo(db);
  if (existing && existing.version > SCHEMA_VERSION) {
    throw new SchemaError('SCHEMA_TOO_NEW', `${display} holds Mosaic schema v${existing.version}, newer than this tool's v${SCHEMA_VERSION}: upgrade the mosaic tool.`);
  }
  if (existing && existing.tier !== tier) {
    throw new SchemaError('TIER_MISMATCH', `${display} was initialised for the ${existing.tier} tier, not ${tier}: pass --tier ${existing.tier}, or use an empty database.`);
  }
  if (tier === 'federated' && db.capabilities.serverExtensions) await checkVector(db, display);
  try {
    return await db.transaction(async (tx) => {
      if (tx.capabilities.otherClients) await tx.query('select pg_advisory_xact_lock($1)', [MIGRATE_LOCK_KEY.toString()]);
      await tx.exec('CREATE SCHEMA IF NOT EXISTS drizzle; CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)');
      const [last] = await tx.query<{ created_at: string }>('select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1');
      const lastAt = last ? BigInt(last.created_at) : -1n;
      let applied = 0;
      for (const migration of migrations) {
        if (BigInt(migration.folderMillis) <= lastAt) continue;
        for (const statement of migration.sql) {
          if (statement.trim() !== '') await tx.exec(statement);
        }
        await tx.query('insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)', [migration.hash, String(migration.folderMillis)]);
        applied++;
      }
      if (applied > 0) await options.beforeCommit?.();
      return { tier, applied, total: migrations.length };
    });
  } catch (error) {
    if (isConnectionError(error) && error.sqlState === '42501') {
      throw new SchemaError('MIGRATION_FAILED', `This role lacks a privilege the ${tier} schema needs at ${display} (${error.message}): use the database owner's role.`, { cause: error });
    }
    if (error instanceof SchemaError) throw error;
    throw new SchemaError('MIGRATION_FAILED', `Applying the ${tier} schema to ${display} failed: ${(error as Error).message}`, { cause: error });
  }
}
