-- A finished migrate-tier run records the transaction id it finished in and each table's
-- row count then, so a later re-run can tell whether the target was written since.
ALTER TABLE mosaic.migration_runs ADD COLUMN IF NOT EXISTS finished_xid text;
--> statement-breakpoint
ALTER TABLE mosaic.migration_tables ADD COLUMN IF NOT EXISTS rows_at_finish bigint;
