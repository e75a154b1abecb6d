import { parseLocation } from '@mosaic/connection';
import type { Database, Location } from '@mosaic/connection';
import { applyMigrations, SCHEMA_VERSION } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { UsageError } from '../errors.js';
import { withLocation, withLock } from '../open.js';
import type { ConnectArgs } from '../open.js';
import type { Output } from '../output.js';

export interface InitArgs extends ConnectArgs {
  url: string;
  tier?: Tier | undefined;
  lockTimeout?: number | undefined;
}

/**
 * A PGlite directory is the local tier. A PostgreSQL URL is federated when the vector
 * extension is already installed in that database (a superuser prepared it), else standalone.
 */
async function inferTier(db: Database): Promise<Tier> {
  if (db.engine === 'pglite') return 'local';
  const rows = await db.query("select 1 from pg_extension where extname = 'vector'");
  return rows.length > 0 ? 'federated' : 'standalone';
}

function checkTierFits(location: Location, tier: Tier | undefined): void {
  if (tier === 'local' && location.engine !== 'pglite') {
    throw new UsageError(`--tier local needs a PGlite directory, not a PostgreSQL URL: pass --tier standalone or --tier federated.`);
  }
  if (tier && tier !== 'local' && location.engine === 'pglite') {
    throw new UsageError(`--tier ${tier} needs a PostgreSQL URL; a PGlite directory is the local tier: pass --tier local or a postgresql:// URL.`);
  }
}

export async function initCommand(args: InitArgs, out: Output): Promise<number> {
  const location = parseLocation(args.url);
  checkTierFits(location, args.tier);
  return withLocation(location, { applicationName: 'mosaic storage init', create: true, connectTimeout: args.connectTimeout, storeWait: { out, tag: 'storage init', timeoutSeconds: args.lockTimeout } }, async (db) =>
    // The run lock: init never changes a schema under a running migration.
    withLock(db, out, 'storage init', args.lockTimeout, async () => {
      const tier = args.tier ?? (await inferTier(db));
      const result = await applyMigrations(db, tier);
      if (out.json) {
        out.data(JSON.stringify({ location: location.display, tier, schemaVersion: SCHEMA_VERSION, applied: result.applied, total: result.total }));
      } else if (result.applied === 0) {
        out.data(`[storage init] ${location.display} is already a Mosaic ${tier} store at schema v${SCHEMA_VERSION}: nothing to do.`);
      } else {
        out.data(`[storage init] ${location.display} is now a Mosaic ${tier} store at schema v${SCHEMA_VERSION} (${result.applied} migrations applied).`);
      }
      return 0;
    }));
}
