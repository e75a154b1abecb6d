import { parseLocation } from '@mosaic/connection';
import { withLocation, withLock } from '../open.js';
import type { ConnectArgs } from '../open.js';
import type { Output } from '../output.js';

export interface SeedArgs extends ConnectArgs {
  lockTimeout?: number | undefined;
  url: string;
  scale: number;
  seed: number;
}

export async function seedCommand(args: SeedArgs, out: Output): Promise<number> {
  // Loaded here, not with the CLI: its corpus is memory every other command would carry.
  const { seed, SeedError } = await import('@mosaic/seed');
  const location = parseLocation(args.url);
  // Bad numbers are refused before anything is opened.
  if (!Number.isInteger(args.scale) || args.scale < 1) {
    throw new SeedError('INVALID_OPTIONS', `--scale must be a whole number of at least 1 (got ${args.scale}).`);
  }
  if (!Number.isInteger(args.seed) || args.seed < 0 || args.seed > 0xffffffff) {
    throw new SeedError('INVALID_OPTIONS', `--seed must be a whole number from 0 to 4294967295 (got ${args.seed}).`);
  }
  return withLocation(location, { applicationName: 'mosaic storage seed', connectTimeout: args.connectTimeout, storeWait: { out, tag: 'storage seed', timeoutSeconds: args.lockTimeout } }, (db) => withLock(db, out, 'storage seed', args.lockTimeout, async () => {
    // The heading comes with the first table, so a refusal stays a single line.
    let started = false;
    const result = await seed(db, { scale: args.scale, seed: args.seed }, (t) => {
      if (!started) out.info(`[storage seed] Seeding ${location.display} at scale ${args.scale} (seed ${args.seed})`);
      started = true;
      out.info(`  ${t.table}: ${t.rows} ${t.rows === 1 ? 'row' : 'rows'}`);
    });
    const rate = Math.round(result.totalRows / Math.max(result.seconds, 0.001));
    if (out.json) {
      out.data(JSON.stringify({ location: location.display, scale: args.scale, seed: args.seed, tables: result.tables, totalRows: result.totalRows, seconds: result.seconds, rowsPerSecond: rate }));
    } else {
      out.data(`[storage seed] ${result.totalRows} ${result.totalRows === 1 ? 'row' : 'rows'} in ${result.seconds.toFixed(1)} s (${rate} rows/s) into ${location.display}.`);
    }
    return 0;
  }));
}
