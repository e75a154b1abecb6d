-- The schema version, readable from the database (packages/schema readSchemaInfo()).
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
INSERT INTO mosaic.schema_info (version, tier) VALUES (1, 'local')
  ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, tier = excluded.tier, applied_at = now();
