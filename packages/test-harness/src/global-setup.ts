import type { TestProject } from 'vitest/node';
import postgres from 'postgres';
import { findPostgresBin, PASSWORD_ROLE, PASSWORD_ROLE_SECRET, startEphemeralCluster } from './ephemeral-cluster.js';

import './provided.js';

const HOW_TO = [
  'Mosaic tests need a PostgreSQL server with pgvector. Provide one of:',
  '  - MOSAIC_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres (a superuser URL),',
  '  - a Docker engine (testcontainers starts pgvector/pgvector:pg17),',
  '  - local PostgreSQL binaries with pgvector: sudo bash tools/provision-services.sh (Debian).',
].join('\n');

async function tryDocker(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  if (process.env.MOSAIC_TEST_DOCKER === '0') return undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient(); // fails in milliseconds without a Docker engine
  } catch {
    return undefined;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('pgvector/pgvector:pg17').withUsername('postgres').withPassword('postgres').start();
  return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

async function checkPgvector(url: string, source: string): Promise<void> {
  // Plain postgres.js: the harness must not depend on the packages it tests.
  const sql = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    const [row] = await sql<{ vector: boolean; superuser: boolean }[]>`
      select exists(select 1 from pg_available_extensions where name = 'vector') as vector,
             (select rolsuper from pg_roles where rolname = current_user) as superuser`.catch((error: Error) => {
      throw new Error(`Cannot reach the test PostgreSQL (${source}): ${error.message}\n${HOW_TO}`);
    });
    if (!row?.vector) throw new Error(`pgvector is not available on the test PostgreSQL (${source}).\n${HOW_TO}`);
    if (!row.superuser) throw new Error(`The test PostgreSQL URL (${source}) must be a superuser: tests create databases, roles and the vector extension.`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Creates the password role; its URL only where the server really checks passwords. */
async function passwordRole(url: string, source: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`do $$ begin if not exists (select from pg_roles where rolname = '${PASSWORD_ROLE}') then create role ${PASSWORD_ROLE} login password '${PASSWORD_ROLE_SECRET}'; end if; end $$`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  if (source.startsWith('env')) return '';
  const u = new URL(url);
  u.username = PASSWORD_ROLE;
  u.password = PASSWORD_ROLE_SECRET;
  return u.toString();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url: string;
  let source: string;
  let stop: () => Promise<void> = async () => {};
  if (process.env.MOSAIC_TEST_DATABASE_URL) {
    url = process.env.MOSAIC_TEST_DATABASE_URL;
    source = 'env MOSAIC_TEST_DATABASE_URL';
  } else {
    const docker = await tryDocker();
    if (docker) {
      ({ url, stop } = docker);
      source = 'docker pgvector/pgvector:pg17';
    } else {
      const bin = findPostgresBin();
      if (!bin) throw new Error(`No PostgreSQL found.\n${HOW_TO}`);
      const cluster = await startEphemeralCluster(bin);
      url = cluster.url;
      source = `ephemeral cluster (${bin})`;
      stop = async () => cluster.stop();
    }
  }
  try {
    await checkPgvector(url, source);
  } catch (error) {
    await stop();
    throw error;
  }
  console.log(`[test-harness] PostgreSQL with pgvector: ${source}`);
  project.provide('pgPasswordUrl', await passwordRole(url, source));
  project.provide('pgAdminUrl', url);
  project.provide('pgSource', source);
  return stop;
}
