import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import postgres from 'postgres';
import './provided.js';

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (q: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const sql = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
  try {
    return await fn((text) => sql.unsafe(text));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const created: string[] = [];
let registered = false;

/** A new, empty database on the test server; dropped after the test file. */
export async function createTestDatabase(prefix = 'mosaic_test'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await admin((q) => q(`CREATE DATABASE "${name}"`));
  created.push(name);
  if (!registered) {
    registered = true;
    afterAll(async () => {
      await admin(async (q) => {
        for (const db of created.splice(0)) await q(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      });
    });
  }
  return withDatabaseName(inject('pgAdminUrl'), name);
}

const dirs: string[] = [];
let dirsRegistered = false;

/** A path for a PGlite store under a temp dir (not created: PGlite stores start absent). */
export function tempStorePath(label = 'store'): string {
  const base = mkdtempSync(join(tmpdir(), `mosaic-${label}-`));
  dirs.push(base);
  if (!dirsRegistered) {
    dirsRegistered = true;
    afterAll(() => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });
  }
  return join(base, 'data');
}

export function tempDir(label = 'tmp'): string {
  const base = mkdtempSync(join(tmpdir(), `mosaic-${label}-`));
  dirs.push(base);
  return base;
}
