import type { Queryable } from '@mosaic/connection';
import { MIGRATION_ORDER, readSchemaInfo } from '@mosaic/schema';
import type { CatalogFacts } from './classify.js';

/** Reads the facts classify() needs; one round trip for the catalog, one for the schema. */
export async function readCatalogFacts(db: Queryable): Promise<CatalogFacts> {
  const [row] = await db.query<{ version: string; available: boolean; installed: string | null; embedding: boolean; creatable: boolean }>(`
    select current_setting('server_version') as version,
           exists(select 1 from pg_available_extensions where name = 'vector') as available,
           (select extversion from pg_extension where extname = 'vector') as installed,
           exists(select 1 from pg_attribute where attrelid = to_regclass('public.insights') and attname = 'embedding' and not attisdropped) as embedding,
           coalesce((select rolsuper from pg_roles where rolname = current_user), false)
             or coalesce((select v.trusted from pg_available_extension_versions v join pg_available_extensions a
                           on a.name = v.name and a.default_version = v.version where v.name = 'vector'), false) as creatable`);
  const info = await readSchemaInfo(db);
  return {
    engine: db.engine,
    serverVersion: String(row!.version).split(' ')[0]!,
    vectorAvailable: row!.available,
    vectorInstalledVersion: row!.installed,
    vectorCreatable: row!.creatable,
    schemaVersion: info?.version ?? null,
    schemaTier: info?.tier ?? null,
    instanceId: info?.instanceId ?? null,
    hasEmbeddingColumn: row!.embedding,
  };
}

/** Exact row counts of the Mosaic tables that exist (count(*), not planner estimates). */
export async function readRowCounts(db: Queryable): Promise<Record<string, number>> {
  const present = await db.query<{ t: string }>(
    `select c.relname as t from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname = any(string_to_array($1, ','))`,
    [MIGRATION_ORDER.join(',')],
  );
  const names = MIGRATION_ORDER.filter((t) => present.some((p) => p.t === t));
  if (names.length === 0) return {};
  const rows = await db.query<{ t: string; n: string }>(names.map((t) => `select '${t}' as t, count(*)::text as n from "${t}"`).join(' union all '));
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = Number(rows.find((r) => r.t === name)!.n);
  return counts;
}

/** Rows of insights that hold a vector: what a downgrade to a tier without pgvector would lose. */
export async function countEmbeddings(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: string }>('select count(*)::text as n from insights where embedding is not null');
  return Number(row?.n ?? 0);
}
