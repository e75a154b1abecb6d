import { createRequire } from 'node:module';
import type { Queryable } from '@mosaic/connection';
import type { Tier } from './graph.js';

const require = createRequire(import.meta.url);

/** The schema version this code writes and reads (packages/schema/schema-version.json). */
export const SCHEMA_VERSION: number = (require('../schema-version.json') as { SCHEMA_VERSION: number }).SCHEMA_VERSION;

export interface SchemaInfo {
  readonly version: number;
  readonly tier: Tier;
  readonly appliedAt: string;
  /** A random id given to the store when its schema was first applied. */
  readonly instanceId: string;
}

/** The schema version recorded in the database, or undefined when there is no Mosaic schema. */
export async function readSchemaInfo(db: Queryable): Promise<SchemaInfo | undefined> {
  const [present] = await db.query<{ present: boolean }>("select to_regclass('mosaic.schema_info') is not null as present");
  if (!present?.present) return undefined;
  const [row] = await db.query<{ version: number; tier: Tier; applied_at: string; instance_id: string }>('select version, tier, applied_at, instance_id::text as instance_id from mosaic.schema_info');
  return row ? { version: row.version, tier: row.tier, appliedAt: row.applied_at, instanceId: row.instance_id } : undefined;
}
