import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import postgres from 'postgres';
import { testServer } from './servers.js';
import type { ServerRef } from './servers.js';

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(adminUrl: string, fn: (q: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await fn((text) => sql.unsafe(text));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const created: Array<{ adminUrl: string; name: string }> = [];
const dirs: string[] = [];

// Registered when a test file imports the harness, that is while vitest collects the file: a
// hook registered from inside a running test is silently ignored, which is where these were
// registered before (on the persistent PostgreSQL 17 server every test database stayed, 867
// of them after a day of runs, and every temp store in /tmp, about 6 GB a full run).
afterAll(async () => {
  for (const db of created.splice(0)) await admin(db.adminUrl, (q) => q(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A new, empty database for the calling test file, dropped after it. `server` picks where: a
 * name (`pg17`), a role (`federated`: PostgreSQL 17, `standalone`: PostgreSQL 15), or, by
 * default, the first selected server.
 */
export async function createTestDatabase(prefix = 'mosaic_test', server?: ServerRef): Promise<string> {
  const { adminUrl } = testServer(server);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (q) => q(`CREATE DATABASE "${name}"`));
  created.push({ adminUrl, name });
  return withDatabaseName(adminUrl, name);
}

/** A temp dir removed after the calling test file. */
export function tempDir(label = 'tmp'): string {
  const base = mkdtempSync(join(tmpdir(), `mosaic-${label}-`));
  dirs.push(base);
  return base;
}

/** A path for a PGlite store under a temp dir (not created: PGlite stores start absent). */
export function tempStorePath(label = 'store'): string {
  return join(tempDir(label), 'data');
}
