-- The schema version, readable from the database (packages/schema readSchemaInfo()).
CREATE SCHEMA IF NOT EXISTS mosaic;
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS mosaic.schema_info (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version integer NOT NULL,
  tier text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
INSERT INTO mosaic.schema_info (version, tier) VALUES (1, 'local')
  ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, tier = excluded.tier, applied_at = now();
