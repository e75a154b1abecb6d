import { parseLocation } from './location.js';
import type { Location } from './location.js';
import { openPglite } from './pglite/driver.js';
import { openPostgres } from './postgres-js/driver.js';
import type { Database, OpenOptions } from './types.js';

/** Opens a location (a URL or a PGlite directory, parsed or not). */
export async function openDatabase(location: string | Location, options: OpenOptions = {}): Promise<Database> {
  const loc = typeof location === 'string' ? parseLocation(location) : location;
  return loc.engine === 'postgres' ? openPostgres(loc, options) : openPglite(loc, options);
}

/** Opens, runs `fn`, and always closes. */
export async function withDatabase<T>(location: string | Location, options: OpenOptions, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(location, options);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
