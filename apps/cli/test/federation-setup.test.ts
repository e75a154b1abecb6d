import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import type {} from '@mosaic/test-harness'; // inject('pgAdminUrl')
import { query } from './migrate-helpers.js';
import { runCli } from './run-cli.js';

const DIR = fileURLToPath(new URL('../../../docs/federation/', import.meta.url));

interface Service {
  image?: string;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] | string };
}

/** The services table of SETUP.md: what the docs promise, read once, from the docs. */
function documentedServices(): Array<{ service: string; image: string; port: string; check: string; volume: string }> {
  const setup = readFileSync(`${DIR}SETUP.md`, 'utf8');
  const rows = setup.split('\n').filter((l) => /^\| `[a-z]+` \| `/.test(l));
  return rows.map((row) => {
    const [service, image, port, check, volume] = row.split('|').slice(1, -1).map((c) => c.trim());
    const unquote = (c: string | undefined) => /`([^`]+)`/.exec(c ?? '')?.[1] ?? '';
    return { service: unquote(service), image: unquote(image), port: unquote(port), check: unquote(check), volume: unquote(volume) };
  });
}

/** What `${VAR:-default}` and `${VAR:?message}` mean with nothing set: compose's own rules. */
function withDefaults(text: string): string {
  return text.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z_]+(:\?[^}]*)?\}/g, '<set>');
}

describe('docs/federation: the compose file is the stack SETUP.md describes', () => {
  const compose = parse(readFileSync(`${DIR}docker-compose.yml`, 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const documented = documentedServices();

  it('SETUP.md names PostgreSQL 17 with pgvector and Valkey 8', () => {
    expect(documented.map((d) => d.image)).toEqual(['pgvector/pgvector:pg17', 'valkey/valkey:8']);
  });

  it.each(documentedServices())('$service: image $image, port $port, a health check, volume $volume', ({ service, image, port, check, volume }) => {
    const s = compose.services[service];
    expect(s, `service ${service} in docker-compose.yml`).toBeDefined();
    expect(s!.image).toBe(image);
    // host address : host port : container port, with the defaults SETUP.md documents.
    expect((s!.ports ?? []).map(withDefaults)).toContain(`127.0.0.1:${port}:${port}`);
    const test = [s!.healthcheck?.test ?? []].flat().join(' ');
    expect(test).toMatch(/^CMD(-SHELL)? /);
    for (const word of check.split(' ')) expect(test).toContain(word);
    expect((s!.volumes ?? []).some((v) => v.startsWith(`${volume}:`))).toBe(true);
    expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it('every service of the compose file is documented', () => {
    expect(Object.keys(compose.services).sort()).toEqual(documented.map((d) => d.service).sort());
  });
});

describe('docs/federation/init/10-mosaic.sh: a target an ordinary role can migrate into', () => {
  const admin = new URL(inject('pgAdminUrl'));
  const name = `mosaic_setup_${randomBytes(4).toString('hex')}`;
  const password = `pw'${randomBytes(4).toString('hex')}@`; // a quote: the script must quote it
  afterAll(async () => {
    await query(inject('pgAdminUrl'), `drop database if exists ${name} with (force)`);
    await query(inject('pgAdminUrl'), `drop role if exists ${name}`);
  });

  it('creates the role and database, installs vector, and is idempotent', async () => {
    const env = {
      ...process.env,
      PGHOST: admin.hostname, PGPORT: admin.port || '5432', PGPASSWORD: decodeURIComponent(admin.password),
      POSTGRES_USER: decodeURIComponent(admin.username), POSTGRES_DB: admin.pathname.slice(1) || 'postgres',
      MOSAIC_DB_NAME: name, MOSAIC_DB_USER: name, MOSAIC_DB_PASSWORD: password,
    };
    for (let i = 0; i < 2; i++) {
      const run = spawnSync('bash', [`${DIR}init/10-mosaic.sh`], { env, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr.trim()).toMatch(new RegExp(`^mosaic: database "${name}" owned by role "${name}", pgvector [\\d.]+ installed$`));
    }
    const [role] = await query<{ rolsuper: boolean; owner: string }>(inject('pgAdminUrl'),
      `select r.rolsuper, pg_get_userbyid(d.datdba) as owner from pg_roles r, pg_database d where r.rolname = '${name}' and d.datname = '${name}'`);
    expect(role).toEqual({ rolsuper: false, owner: name });

    const target = new URL(admin);
    target.username = name;
    target.password = encodeURIComponent(password);
    target.pathname = `/${name}`;
    const init = await runCli(['storage', 'init', '--url', target.toString()]);
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain('is now a Mosaic federated store');
    expect(init.stdout + init.stderr).not.toContain(password);
  });
});
