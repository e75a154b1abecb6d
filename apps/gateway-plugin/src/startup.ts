import type { Database } from '@mosaic/connection';
import { readLatestRun } from '@mosaic/copy-engine';
import type { Tier } from '@mosaic/schema';
import { detectDatabase } from '@mosaic/tier-detect';
import type { Detection } from '@mosaic/tier-detect';
import { GatewayStartupError } from './errors.js';

/**
 * What the gateway checks before it serves: the store is a Mosaic store of the configured tier,
 * not newer than this code, and not the target of a migration that has not finished (its data
 * would be partial: the operator resumes the migration first).
 */
export async function checkStore(db: Database, tier: Tier, valkeyUrl: string | undefined): Promise<Detection> {
  const found = await detectDatabase(db, { counts: false, valkeyUrl });
  const where = found.location;
  if (!found.schema.present) {
    throw new GatewayStartupError('NO_SCHEMA', `The gateway's store ${where} has no Mosaic schema: run "mosaic storage init --url ${where}" first.`);
  }
  if (found.schema.state === 'newer') {
    throw new GatewayStartupError('SCHEMA_TOO_NEW', `The gateway's store ${where} holds Mosaic schema v${found.schema.version}, newer than this gateway's v${found.schema.toolVersion}: upgrade the gateway.`);
  }
  if (found.tier !== tier) {
    const why = tier === 'federated' && !found.pgvector.available ? ' (the server has no pgvector)' : '';
    throw new GatewayStartupError('TIER_MISMATCH', `The gateway is configured for the ${tier} tier, but its store ${where} is ${found.tier}${why}: fix the configured tier, or migrate the store with "mosaic storage migrate-tier --to ${tier}".`);
  }
  const run = await readLatestRun(db);
  if (run && run.status !== 'done') {
    throw new GatewayStartupError('UNFINISHED_MIGRATION', `The gateway's store ${where} is the target of an unfinished migration (run ${run.runId} from ${run.sourceLocation}, started ${run.startedAt}): resume it with "mosaic storage migrate-tier --source ${run.sourceLocation} --target-url ${where} --yes" before starting the gateway.`);
  }
  return found;
}
