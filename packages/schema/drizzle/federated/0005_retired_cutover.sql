-- How gateways on a retired store follow it: 'live' (switch to the new store at once, where
-- they know its credentials) or 'restart' (stay fenced until restarted on it).
ALTER TABLE mosaic.store_state ADD COLUMN IF NOT EXISTS retired_cutover text CHECK (retired_cutover IN ('live', 'restart'));
