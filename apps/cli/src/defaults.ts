import { homedir } from 'node:os';
import { join } from 'node:path';

/** The store the CLI acts on when no --url/--source is given (DESIGN section 4). */
export function defaultLocation(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MOSAIC_DATABASE_URL) return env.MOSAIC_DATABASE_URL;
  return join(env.MOSAIC_HOME || join(homedir(), '.mosaic'), 'data');
}
