// Throw-away places for the generator to run the real CLI in: a PGlite home directory and
// PostgreSQL target databases, each owned by its own ordinary (non-superuser) role as the
// operator guide prescribes, with pgvector installed by the admin connection.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';

export const DEFAULT_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

const quiet = { max: 1, onnotice: () => {}, connect_timeout: 10 };

export function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A temp directory, removed by the returned `remove`. */
export function scratchDir() {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-docs-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * An empty target database, owned by a login role of the same name with a password (so the
 * guide shows the tool redacting it), `vector` installed. `drop()` removes both.
 */
export async function scratchTarget(adminUrl) {
  const name = `mosaic_docs_${randomBytes(5).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const admin = postgres(adminUrl, quiet);
  try {
    await admin.unsafe(`create role ${name} login password '${password}'`);
    await admin.unsafe(`create database ${name} owner ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const inTarget = postgres(withDatabase(adminUrl, name), quiet);
  try {
    await inTarget.unsafe('create extension vector');
    await inTarget.unsafe(`alter schema public owner to ${name}`);
  } finally {
    await inTarget.end({ timeout: 5 });
  }
  const u = new URL(withDatabase(adminUrl, name));
  u.username = name;
  u.password = password;
  return {
    name,
    url: u.toString(),
    hostPort: u.port ? `${u.hostname}:${u.port}` : u.hostname,
    async drop() {
      const sql = postgres(adminUrl, quiet);
      try {
        await sql.unsafe(`drop database if exists ${name} with (force)`);
        await sql.unsafe(`drop role if exists ${name}`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/** A postgres.js client on one of the scratch databases, as the admin role. */
export function adminClient(adminUrl, database, applicationName) {
  return postgres(withDatabase(adminUrl, database), { ...quiet, connection: { application_name: applicationName } });
}
