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
  -- Names this store: a migration journal records which source it came from.
  instance_id uuid NOT NULL DEFAULT gen_random_uuid(),
  applied_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
-- The run journal of migrate-tier, written in the target with the data it describes, so a
-- crash at any point resumes where it stopped (packages/copy-engine).
CREATE TABLE IF NOT EXISTS mosaic.migration_runs (
  run_id uuid PRIMARY KEY,
  source_instance uuid NOT NULL,
  source_location text NOT NULL,
  source_tier text NOT NULL,
  target_tier text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'done')),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS mosaic.migration_tables (
  run_id uuid NOT NULL REFERENCES mosaic.migration_runs ON DELETE CASCADE,
  table_name text NOT NULL,
  status text NOT NULL CHECK (status IN ('copying', 'done')),
  -- The key of the last row of the last committed chunk, as text values of the key columns.
  last_key jsonb,
  rows_copied bigint NOT NULL DEFAULT 0,
  chunks integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, table_name)
);
--> statement-breakpoint
INSERT INTO mosaic.schema_info (version, tier) VALUES (${SCHEMA_VERSION}, '${tier}')
  ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, tier = excluded.tier, applied_at = now();
`;

// Added after v1 shipped: what a finished run leaves to tell later whether the target was
// written since (packages/copy-engine, TARGET_CHANGED_SINCE_RUN). Idempotent, no version bump:
// the journal is the copy engine's, not the store's schema.
const journalWatermark = `-- A finished migrate-tier run records the transaction id it finished in and each table's
-- row count then, so a later re-run can tell whether the target was written since.
ALTER TABLE mosaic.migration_runs ADD COLUMN IF NOT EXISTS finished_xid text;
--> statement-breakpoint
ALTER TABLE mosaic.migration_tables ADD COLUMN IF NOT EXISTS rows_at_finish bigint;
`;

// Added after v1 shipped (issue #16): what lets a migration freeze every writer of a store, and
// fence it for good once verified (packages/write-freeze). Idempotent, no version bump: a store
// without it gets it when it is first frozen, or by mosaic storage init.
const writeFreeze = `-- The gateways that serve this store: each registers, heartbeats and acknowledges a freeze
-- (packages/write-freeze). Live = heartbeat recent, by the server's clock.
CREATE TABLE IF NOT EXISTS mosaic.gateways (
  gateway_id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- The last freeze this gateway heard, stopped its writes for and drained.
  acked_freeze_id uuid,
  acked_at timestamptz
);
--> statement-breakpoint
-- Whether the store takes writes: open, frozen by a migration run, or retired (fenced) after a
-- verified one. One row; the write-refusing triggers read it for their message.
CREATE TABLE IF NOT EXISTS mosaic.store_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'frozen', 'retired')),
  freeze_id uuid,
  run_id text,
  frozen_since timestamptz,
  frozen_by text,
  retired_at timestamptz,
  retired_by_run text,
  retired_to_tier text,
  -- Redacted: never a password.
  retired_to_location text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
INSERT INTO mosaic.store_state (singleton) VALUES (true) ON CONFLICT (singleton) DO NOTHING;
`;

// Added after v1 shipped (issue #16): the cutover a retiring run chose, so that every gateway
// on the old store (not only the one that ran the job) follows a job's `cutover: 'live'`.
const retiredCutover = `-- How gateways on a retired store follow it: 'live' (switch to the new store at once, where
-- they know its credentials) or 'restart' (stay fenced until restarted on it).
ALTER TABLE mosaic.store_state ADD COLUMN IF NOT EXISTS retired_cutover text CHECK (retired_cutover IN ('live', 'restart'));
`;

export function customMigrations(tier) {
  return [
    ...(tier === 'federated' ? [{ name: 'vector_extension', sql: vectorExtension }] : []),
    { name: 'schema_v1', generated: true },
    { name: 'schema_info', sql: schemaInfo(tier) },
    { name: 'journal_watermark', sql: journalWatermark },
    { name: 'write_freeze', sql: writeFreeze },
    { name: 'retired_cutover', sql: retiredCutover },
  ];
}
