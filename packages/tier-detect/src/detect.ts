import { openDatabase } from '@mosaic/connection';
import type { Database, Location } from '@mosaic/connection';
import { SCHEMA_VERSION } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { countEmbeddings, readCatalogFacts, readRowCounts } from './catalog.js';
import { classify } from './classify.js';
import type { SchemaState } from './classify.js';
import { checkValkey } from './valkey.js';
import type { ValkeyHealth } from './valkey.js';

export interface Detection {
  readonly location: string;
  readonly engine: 'pglite' | 'postgres';
  readonly serverVersion: string;
  readonly tier: Tier;
  readonly tierReason: string;
  readonly pgvector: { readonly available: boolean; readonly installed: boolean; readonly version: string | null; readonly creatable: boolean };
  readonly schema: { readonly present: boolean; readonly version: number | null; readonly state: SchemaState; readonly toolVersion: number; readonly instanceId: string | null };
  /** insights.embedding exists (federated schema) and how many rows hold a vector. */
  readonly embeddings: { readonly column: boolean; readonly nonNull: number };
  /** Per table, in MIGRATION_ORDER; empty without a schema. */
  readonly rowCounts: Readonly<Record<string, number>>;
  readonly totalRows: number;
  /** Only for a federated location given a Valkey URL; `null` when none was given. */
  readonly valkey: ValkeyHealth | null;
}

export interface DetectOptions {
  /** Checked for federated locations (`--valkey-url`, `MOSAIC_VALKEY_URL`). */
  valkeyUrl?: string | undefined;
  valkeyTimeoutMs?: number;
  /** Skip the count(*) of every table (a status glance on a huge store). */
  counts?: boolean;
}

/** Detection over an open database (the caller keeps it open). */
export async function detectDatabase(db: Database, options: DetectOptions = {}): Promise<Detection> {
  const facts = await readCatalogFacts(db);
  const { tier, schemaState, reason } = classify(facts, SCHEMA_VERSION);
  const rowCounts = options.counts === false || schemaState === 'absent' ? {} : await readRowCounts(db);
  const valkey = tier === 'federated' && options.valkeyUrl ? await checkValkey(options.valkeyUrl, options.valkeyTimeoutMs) : null;
  return {
    location: db.location.display,
    engine: facts.engine,
    serverVersion: facts.serverVersion,
    tier,
    tierReason: reason,
    pgvector: { available: facts.vectorAvailable, installed: facts.vectorInstalledVersion !== null, version: facts.vectorInstalledVersion, creatable: facts.vectorCreatable },
    schema: { present: schemaState !== 'absent', version: facts.schemaVersion, state: schemaState, toolVersion: SCHEMA_VERSION, instanceId: facts.instanceId },
    embeddings: { column: facts.hasEmbeddingColumn, nonNull: facts.hasEmbeddingColumn && options.counts !== false ? await countEmbeddings(db) : 0 },
    rowCounts,
    totalRows: Object.values(rowCounts).reduce((a, b) => a + b, 0),
    valkey,
  };
}

/** Opens the location read-only in intent, detects, and closes. */
export async function detect(location: string | Location, options: DetectOptions & { applicationName?: string; connectTimeoutSeconds?: number } = {}): Promise<Detection> {
  const db = await openDatabase(location, {
    applicationName: options.applicationName ?? 'mosaic tier-detect',
    ...(options.connectTimeoutSeconds !== undefined ? { connectTimeoutSeconds: options.connectTimeoutSeconds } : {}),
  });
  try {
    return await detectDatabase(db, options);
  } finally {
    await db.close();
  }
}
