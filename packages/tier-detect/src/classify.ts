import type { Tier } from '@mosaic/schema';

/** What was read from a location's catalog: input to the pure classification below. */
export interface CatalogFacts {
  readonly engine: 'pglite' | 'postgres';
  readonly serverVersion: string;
  readonly vectorAvailable: boolean;
  readonly vectorInstalledVersion: string | null;
  /** This role could run CREATE EXTENSION vector (superuser, or a trusted extension). */
  readonly vectorCreatable: boolean;
  readonly schemaVersion: number | null;
  readonly schemaTier: Tier | null;
  readonly instanceId: string | null;
  /** insights.embedding exists: the one column only the federated schema has. */
  readonly hasEmbeddingColumn: boolean;
}

export type SchemaState = 'absent' | 'current' | 'older' | 'newer';

export interface Classification {
  readonly tier: Tier;
  readonly schemaState: SchemaState;
  /** Why the tier was chosen, for `status` and for error messages. */
  readonly reason: string;
}

/**
 * The tier of a location. PGlite is `local`. On PostgreSQL the data decides when there is
 * a Mosaic schema (an embedding column is `federated`), else the capability does (the vector
 * extension installed in the database is `federated`, anything else `standalone`).
 */
export function classify(facts: CatalogFacts, toolSchemaVersion: number): Classification {
  const schemaState: SchemaState = facts.schemaVersion === null ? 'absent'
    : facts.schemaVersion === toolSchemaVersion ? 'current'
      : facts.schemaVersion < toolSchemaVersion ? 'older' : 'newer';
  if (facts.engine === 'pglite') return { tier: 'local', schemaState, reason: 'a PGlite directory is the local tier' };
  if (schemaState !== 'absent') {
    return facts.hasEmbeddingColumn
      ? { tier: 'federated', schemaState, reason: 'the Mosaic schema has insights.embedding (pgvector)' }
      : { tier: 'standalone', schemaState, reason: 'the Mosaic schema has no vector column' };
  }
  return facts.vectorInstalledVersion !== null
    ? { tier: 'federated', schemaState, reason: 'no Mosaic schema yet; the vector extension is installed' }
    : { tier: 'standalone', schemaState, reason: facts.vectorAvailable ? 'no Mosaic schema yet; pgvector is available but not installed' : 'no Mosaic schema yet; no pgvector on the server' };
}
