-- The gateways that serve this store: each registers, heartbeats and acknowledges a freeze
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
