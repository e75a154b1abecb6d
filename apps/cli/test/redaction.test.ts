import fc from 'fast-check';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import {
  createTestDatabase, expectNoLeak, freePort, passwordArbitrary, placeholderFor, typedPassword, withPassword,
} from '@mosaic/test-harness';
import { runCli } from './run-cli.js';
import type { CliResult } from './run-cli.js';

// Issue #13 item 3, "no password ever leaks", through every output path of the built CLI:
// generated passwords (printable ASCII weighted towards URL delimiters, and non-ASCII), raw or
// percent-encoded, in the URLs of status, init, seed, migrate-tier (dry run and real) and
// verify, human and --json, on success and on failure; the journal's stored source location;
// Valkey URLs. Each path runs twice, with the password and with its placeholder (same shape,
// nothing secret), and the leak detector flags fragments of 3+ characters of the password that
// show only with the real one (@mosaic/test-harness leaks.ts explains why that is sound).
// PostgreSQL here trusts `postgres`, so any password connects and rides every success path.

const password = passwordArbitrary({ minLength: 6, maxLength: 20 });

/**
 * Cases per property (each runs every path twice); MOSAIC_PROPERTY_RUNS overrides, e.g. for a longer hunt.
 * `endOnFailure`: no shrinking here (each step spawns every path again); the counterexample and
 * its seed are printed as found. The pure properties in @mosaic/connection do shrink.
 */
const RUNS = process.env.MOSAIC_PROPERTY_RUNS ? Number(process.env.MOSAIC_PROPERTY_RUNS) : undefined;

const VALKEY = process.env.MOSAIC_VALKEY_URL ?? 'redis://127.0.0.1:6380';

function show(label: string, r: CliResult): string {
  return `## ${label}: exit ${r.status}\n${r.stdout}\n${r.stderr}`;
}

/** `scheme://user@host:port/db` with the port or database replaced. */
function elsewhere(url: string, change: { port?: number; db?: string }): string {
  const u = new URL(url);
  if (change.port) u.port = String(change.port);
  if (change.db) u.pathname = `/${change.db}`;
  return u.toString();
}

async function journalSourceLocation(adminUrl: string): Promise<string> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ source_location: string }[]>`select source_location from mosaic.migration_runs order by started_at desc`;
    return rows.map((r) => r.source_location).join('\n');
  } catch (error) {
    return `no journal: ${(error as Error).message}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

interface Run {
  text: string;
  migrated: boolean;
}

/** Success paths: a fresh source and target, every command with the password in each URL. */
async function successPaths(typed: string): Promise<Run> {
  const sourceAdmin = await createTestDatabase('mosaic_redact');
  const targetAdmin = await createTestDatabase('mosaic_redact');
  const source = withPassword(sourceAdmin, typed);
  const target = withPassword(targetAdmin, typed);
  const valkey = withPassword(VALKEY, typed);
  const out: string[] = [];
  const cli = async (label: string, args: string[]) => {
    const started = Date.now();
    const r = await runCli(args);
    if (process.env.MOSAIC_PROPERTY_TRACE) console.log(`${label}: ${Date.now() - started} ms`);
    out.push(show(label, r));
    return r;
  };
  await cli('init --json', ['storage', 'init', '--url', source, '--tier', 'federated', '--json']);
  await cli('seed', ['storage', 'seed', '--url', source, '--scale', '1']);
  await Promise.all([
    cli('init again', ['storage', 'init', '--url', source, '--tier', 'federated']),
    cli('seed a full store (NOT_EMPTY)', ['storage', 'seed', '--url', source, '--scale', '1', '--json']),
    cli('migrate-tier --dry-run --json', ['storage', 'migrate-tier', '--to', 'federated', '--source', source, '--target-url', target, '--dry-run', '--json']),
    cli('migrate-tier --dry-run', ['storage', 'migrate-tier', '--to', 'federated', '--source', source, '--target-url', target, '--dry-run']),
  ]);
  const migrated = await cli('migrate-tier --yes', ['storage', 'migrate-tier', '--to', 'federated', '--source', source, '--target-url', target, '--yes']);
  const journal = await journalSourceLocation(targetAdmin);
  out.push(`## journal source_location\n${journal}`);
  await Promise.all([
    cli('migrate-tier --json (re-run converges)', ['storage', 'migrate-tier', '--to', 'federated', '--source', source, '--target-url', target, '--yes', '--json']).then(() =>
      cli('verify --json', ['storage', 'verify', '--source', source, '--target-url', target, '--json'])),
    cli('verify', ['storage', 'verify', '--source', source, '--target-url', target]),
    cli('status + valkey', ['storage', 'status', '--url', target, '--valkey-url', valkey]),
    cli('status --json + valkey', ['storage', 'status', '--url', target, '--valkey-url', valkey, '--json']),
    cli('migrate-tier into a full store (TARGET_NOT_EMPTY)', ['storage', 'migrate-tier', '--to', 'federated', '--source', target, '--target-url', source, '--yes']),
  ]);
  return { text: out.join('\n'), migrated: migrated.status === 0 && journal.includes(':***@') };
}

/** Failure paths: nothing listening, a missing database, a wrong password, a dead Valkey. */
async function failurePaths(typed: string, ports: { pg: number; valkey: number }, live: string): Promise<string> {
  const refused = withPassword(elsewhere(inject('pgAdminUrl'), { port: ports.pg }), typed);
  const missing = withPassword(elsewhere(inject('pgAdminUrl'), { db: 'mosaic_redact_no_such_db' }), typed);
  const auth = inject('pgPasswordUrl') ? withPassword(elsewhere(inject('pgPasswordUrl'), {}).replace(/:[^:@/]*@/, '@'), typed) : '';
  const deadValkey = withPassword(`redis://127.0.0.1:${ports.valkey}`, typed);
  const runs: [string, string[]][] = [
    ['status refused', ['storage', 'status', '--url', refused, '--connect-timeout', '3']],
    ['status --json missing db', ['storage', 'status', '--url', missing, '--json']],
    ['init refused --json', ['storage', 'init', '--url', refused, '--json']],
    ['seed missing db', ['storage', 'seed', '--url', missing, '--scale', '1']],
    ['migrate-tier refused target', ['storage', 'migrate-tier', '--to', 'federated', '--source', missing, '--target-url', refused, '--dry-run']],
    ['verify missing --json', ['storage', 'verify', '--source', missing, '--target-url', refused, '--json']],
    ['status, dead valkey', ['storage', 'status', '--url', live, '--valkey-url', deadValkey]],
    ['status --json, dead valkey', ['storage', 'status', '--url', live, '--valkey-url', deadValkey, '--json']],
    ...(auth ? [['status auth failure', ['storage', 'status', '--url', auth]] as [string, string[]]] : []),
  ];
  const results = await Promise.all(runs.map(async ([label, args]) => show(label, await runCli(args))));
  return results.join('\n');
}

describe('no password ever leaks through the CLI (property)', () => {
  it('failure paths: refused, missing database, auth failure, malformed URL, dead Valkey', async () => {
    const ports = { pg: await freePort(), valkey: await freePort() };
    const live = await createTestDatabase('mosaic_redact');
    expect((await runCli(['storage', 'init', '--url', live, '--tier', 'federated'])).status).toBe(0);
    await fc.assert(fc.asyncProperty(password, fc.boolean(), async (pw, encoded) => {
      const typed = typedPassword(pw, encoded);
      const [real, baseline] = await Promise.all([
        failurePaths(typed, ports, live),
        failurePaths(typedPassword(placeholderFor(pw), encoded), ports, live),
      ]);
      expectNoLeak(`failure paths, password ${JSON.stringify(typed)}`, real, baseline, [typed, pw]);
      // Percent-encoded, every URL is valid: each failure must really have been met.
      if (encoded) {
        for (const said of ['Connection refused by', 'Database does not exist at', 'UNREACHABLE']) expect(real).toContain(said);
        if (inject('pgPasswordUrl')) expect(real).toContain('Authentication failed for');
      }
    }), { numRuns: RUNS ?? 10, endOnFailure: true, examples: [['p@ss/w#rd?x;y%z: é中', true]] });
  }, 600_000);

  it('success paths: init, seed, migrate-tier (dry run, run, re-run), verify, status with Valkey, the journal', async () => {
    let migrations = 0;
    await fc.assert(fc.asyncProperty(password, fc.boolean(), async (pw, encoded) => {
      const typed = typedPassword(pw, encoded);
      const [real, baseline] = await Promise.all([successPaths(typed), successPaths(typedPassword(placeholderFor(pw), encoded))]);
      expectNoLeak(`success paths, password ${JSON.stringify(typed)}`, real.text, baseline.text, [typed, pw]);
      // Percent-encoded, every password is a valid URL: the success paths must really have run.
      if (encoded) expect(real.migrated, real.text.slice(0, 3000)).toBe(true);
      if (real.migrated) migrations++;
    }), { numRuns: RUNS ?? 4, endOnFailure: true, examples: [['p@ss/w#rd?x;y%z: é中', true], ['p@ss/w#rd?x;y%z: é中', false]] });
    expect(migrations).toBeGreaterThan(0);
  }, 600_000);
});
