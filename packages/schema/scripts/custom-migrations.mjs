// The hand-written migrations drizzle-kit cannot derive, in the order they apply per tier.
// `generated: true` marks the step drizzle-kit writes from the TypeScript schema.
import { readFileSync } from 'node:fs';

const { SCHEMA_VERSION } = JSON.parse(readFileSync(new URL('../schema-version.json', import.meta.url), 'utf8'));

export const TIERS_SCHEMA = { local: 'base', standalone: 'base', federated: 'federated' };

const vectorExtension = `-- pgvector must exist before insights.embedding. IF NOT EXISTS: an ordinary role can re-apply
-- this once a superuser has run CREATE EXTENSION vector.
CREATE EXTENSION IF NOT EXISTS vector;
`;

const schemaInfo = (tier) => `-- The schema version, readable from the database (packages/schema readSchemaInfo()).
CREATE SCHEMA IF NOT EXISTS mosaic;
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS mosaic.schema_info (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version integer NOT NULL,
  tier text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
INSERT INTO mosaic.schema_info (version, tier) VALUES (${SCHEMA_VERSION}, '${tier}')
  ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, tier = excluded.tier, applied_at = now();
`;

export function customMigrations(tier) {
  return [
    ...(tier === 'federated' ? [{ name: 'vector_extension', sql: vectorExtension }] : []),
    { name: 'schema_v1', generated: true },
    { name: 'schema_info', sql: schemaInfo(tier) },
  ];
}
