import { createConnection } from 'node:net';
import type { TestProject } from 'vitest/node';
import postgres from 'postgres';
import { findPostgresBin, PASSWORD_ROLE, PASSWORD_ROLE_SECRET, startEphemeralCluster } from './ephemeral-cluster.js';
import type { TestServer } from './provided.js';

import './provided.js';

/** The servers a run may select, and where tools/provision-services.sh leaves each. */
const KNOWN: Record<string, { major: number; env: readonly string[]; provisionedPort?: number }> = {
  pg17: { major: 17, env: ['MOSAIC_TEST_PG17_URL'], provisionedPort: 5433 },
  pg15: { major: 15, env: ['MOSAIC_TEST_PG15_URL', 'MOSAIC_TEST_DATABASE_URL'] },
};

const HOW_TO = (name: string) => [
  `Mosaic tests need PostgreSQL ${KNOWN[name]?.major ?? '?'} with pgvector (test server ${name}). Provide one of:`,
  `  - ${KNOWN[name]?.env.join(' or ')}=postgresql://postgres@127.0.0.1:PORT/postgres (a superuser URL),`,
  `  - a Docker engine (testcontainers starts pgvector/pgvector:${name}),`,
  name === 'pg17'
    ? '  - PostgreSQL 17 + pgvector on 127.0.0.1:5433: sudo bash tools/provision-services.sh (Debian),'
    : '  - local PostgreSQL 15 binaries with pgvector: sudo bash tools/provision-services.sh (Debian),',
  '  or run fewer servers: MOSAIC_TEST_SERVERS=pg17 (or pg15).',
].join('\n');

async function tryDocker(name: string): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  if (process.env.MOSAIC_TEST_DOCKER === '0') return undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient(); // fails in milliseconds without a Docker engine
  } catch {
    return undefined;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer(`pgvector/pgvector:${name}`).withUsername('postgres').withPassword('postgres').start();
  return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

/** Something answers on 127.0.0.1:port (the provisioned server), within a second. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function checkServer(url: string, name: string, source: string): Promise<void> {
  // Plain postgres.js: the harness must not depend on the packages it tests.
  const sql = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    const [row] = await sql<{ vector: boolean; superuser: boolean; major: number }[]>`
      select exists(select 1 from pg_available_extensions where name = 'vector') as vector,
             (select rolsuper from pg_roles where rolname = current_user) as superuser,
             current_setting('server_version_num')::int / 10000 as major`.catch((error: Error) => {
      throw new Error(`Cannot reach the test PostgreSQL ${name} (${source}): ${error.message}\n${HOW_TO(name)}`);
    });
    if (row?.major !== KNOWN[name]!.major) throw new Error(`The test server ${name} (${source}) is PostgreSQL ${row?.major}, not ${KNOWN[name]!.major}.\n${HOW_TO(name)}`);
    if (!row.vector) throw new Error(`pgvector is not available on the test PostgreSQL ${name} (${source}).\n${HOW_TO(name)}`);
    if (!row.superuser) throw new Error(`The test PostgreSQL URL of ${name} (${source}) must be a superuser: tests create databases, roles and the vector extension.`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Creates the password role; its URL only where the server really checks passwords (the ones the harness started). */
async function passwordRole(url: string, checksPasswords: boolean): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`do $$ begin if not exists (select from pg_roles where rolname = '${PASSWORD_ROLE}') then create role ${PASSWORD_ROLE} login password '${PASSWORD_ROLE_SECRET}'; end if; end $$`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  if (!checksPasswords) return '';
  const u = new URL(url);
  u.username = PASSWORD_ROLE;
  u.password = PASSWORD_ROLE_SECRET;
  return u.toString();
}

/** Finds one server: its env URL, else Docker, else where provisioning puts it, else an ephemeral cluster. */
async function findServer(name: string): Promise<{ url: string; source: string; checksPasswords: boolean; stop: () => Promise<void> }> {
  const known = KNOWN[name]!;
  const fromEnv = known.env.find((v) => process.env[v]);
  if (fromEnv) return { url: process.env[fromEnv]!, source: `env ${fromEnv}`, checksPasswords: false, stop: async () => {} };
  const docker = await tryDocker(name);
  if (docker) return { ...docker, source: `docker pgvector/pgvector:${name}`, checksPasswords: true };
  if (known.provisionedPort && (await listening(known.provisionedPort))) {
    return { url: `postgresql://postgres@127.0.0.1:${known.provisionedPort}/postgres`, source: `provisioned 127.0.0.1:${known.provisionedPort}`, checksPasswords: false, stop: async () => {} };
  }
  const bin = findPostgresBin(String(known.major));
  if (!bin) throw new Error(`No PostgreSQL ${known.major} found for the test server ${name}.\n${HOW_TO(name)}`);
  const cluster = await startEphemeralCluster(bin);
  return { url: cluster.url, source: `ephemeral cluster (${bin})`, checksPasswords: true, stop: async () => cluster.stop() };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const names = (process.env.MOSAIC_TEST_SERVERS ?? 'pg17,pg15').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !KNOWN[n]);
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`MOSAIC_TEST_SERVERS=${process.env.MOSAIC_TEST_SERVERS}: name one or more of ${Object.keys(KNOWN).join(', ')}, comma-separated.`);
  }
  const servers: TestServer[] = [];
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    for (const name of names) {
      const found = await findServer(name);
      stops.push(found.stop);
      await checkServer(found.url, name, found.source);
      servers.push({ name, major: KNOWN[name]!.major, adminUrl: found.url, passwordUrl: await passwordRole(found.url, found.checksPasswords), source: found.source });
      console.log(`[test-harness] ${name}: PostgreSQL ${KNOWN[name]!.major} with pgvector: ${found.source}`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  project.provide('pgServers', servers);
  project.provide('pgAdminUrl', servers[0]!.adminUrl);
  project.provide('pgPasswordUrl', servers[0]!.passwordUrl);
  project.provide('pgSource', servers[0]!.source);
  return stopAll;
}
