import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import { MIGRATION_ORDER } from '@mosaic/schema';
import { createTestDatabase, tableDigests, tempDir, tempStorePath } from '@mosaic/test-harness';
import { expectOneCleanLine, runCli } from './run-cli.js';

async function digestsOf(location: string) {
  const db = await openDatabase(location);
  try {
    return await tableDigests(db, MIGRATION_ORDER, { messages: ['search'] });
  } finally {
    await db.close();
  }
}

describe('mosaic --help', () => {
  it('lists the storage commands and exits 0', async () => {
    const top = await runCli(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toContain('mosaic storage');
    const storage = await runCli(['storage', '--help']);
    expect(storage.stdout).toMatch(/init[\s\S]*seed/);
  });
});

describe('mosaic storage init + seed', () => {
  it('on a PGlite directory: init, re-init as a no-op, seed --scale 10', async () => {
    const dir = tempStorePath();
    const init = await runCli(['storage', 'init', '--url', dir]);
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    expect(init.stdout).toContain(`${dir} is now a Mosaic local store at schema v1`);
    const again = await runCli(['storage', 'init', '--url', dir]);
    expect(again.stdout).toContain('already a Mosaic local store');
    const seeded = await runCli(['storage', 'seed', '--url', dir, '--scale', '10']);
    expect(seeded.status).toBe(0);
    expect(seeded.stderr).toContain('  messages: ');
    expect(seeded.stdout).toMatch(/\[storage seed\] \d+ rows in/);
    const total = Number(/(\d+) rows in/.exec(seeded.stdout)![1]);
    expect(total).toBeGreaterThan(8_000);
    expect(total).toBeLessThan(12_000);
  });

  it('on a PostgreSQL URL: infers standalone, and federated when asked', async () => {
    const url = await createTestDatabase();
    const init = await runCli(['storage', 'init', '--url', url, '--json']);
    expect(init.status).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ tier: 'standalone', schemaVersion: 1 });
    const seeded = await runCli(['storage', 'seed', '--url', url, '--scale', '10', '--json']);
    expect(seeded.status).toBe(0);
    const report = JSON.parse(seeded.stdout) as { totalRows: number; tables: Array<{ table: string; rows: number }> };
    expect(report.tables.map((t) => t.table)).toEqual([...MIGRATION_ORDER]);

    const fed = await createTestDatabase();
    const fedInit = await runCli(['storage', 'init', '--url', fed, '--tier', 'federated']);
    expect(fedInit.stdout).toContain('is now a Mosaic federated store');
    expect((await runCli(['storage', 'seed', '--url', fed, '--scale', '2'])).status).toBe(0);
  });

  it('the same --seed into fresh stores gives identical data (PGlite and PostgreSQL)', async () => {
    const dir = tempStorePath();
    const url = await createTestDatabase();
    for (const location of [dir, url]) {
      expect((await runCli(['storage', 'init', '--url', location])).status).toBe(0);
      expect((await runCli(['storage', 'seed', '--url', location, '--scale', '10', '--seed', '99'])).status).toBe(0);
    }
    expect(await digestsOf(url)).toEqual(await digestsOf(dir));
  });

  it('defaults to $MOSAIC_HOME/data when no --url is given', async () => {
    const home = tempDir('home');
    const init = await runCli(['storage', 'init'], { MOSAIC_HOME: home });
    expect(init.status).toBe(0);
    expect(init.stdout).toContain(join(home, 'data'));
  });
});

describe('bad input: one line, the documented exit status, no password', () => {
  const secret = 's3cret-pw';
  const cases: Array<[string, () => Promise<string[]>, number, RegExp]> = [
    ['unknown tier', async () => ['storage', 'init', '--url', tempStorePath(), '--tier', 'galactic'], 2, /Invalid values.*tier.*galactic/],
    ['--tier local with a URL', async () => ['storage', 'init', '--url', await createTestDatabase(), '--tier', 'local'], 2, /--tier local needs a PGlite directory/],
    ['unreachable URL', async () => ['storage', 'init', '--url', `postgresql://postgres:${secret}@127.0.0.1:1/mosaic`], 1, /Connection refused/],
    ['unresolvable host', async () => ['storage', 'init', '--url', `postgresql://postgres:${secret}@no-such-host.invalid/mosaic`], 1, /does not resolve/],
    ['unknown scheme', async () => ['storage', 'init', '--url', `mysql://root:${secret}@127.0.0.1/mosaic`], 2, /Unsupported location scheme "mysql:\/\/"/],
    ['malformed URL', async () => ['storage', 'init', '--url', `postgresql://postgres:${secret}@127.0.0.1:port/x`], 2, /Malformed PostgreSQL URL/],
    ['a file where a directory is expected', async () => {
      const file = join(tempDir('file'), 'not-a-dir');
      writeFileSync(file, 'hello');
      return ['storage', 'init', '--url', file];
    }, 2, /is a file, not a PGlite store directory/],
    ['scale 0', async () => ['storage', 'seed', '--url', tempStorePath(), '--scale', '0'], 2, /--scale must be a whole number of at least 1 \(got 0\)/],
    ['negative scale', async () => ['storage', 'seed', '--url', tempStorePath(), '--scale', '-3'], 2, /--scale must be a whole number/],
    ['scale not a number', async () => ['storage', 'seed', '--url', tempStorePath(), '--scale', 'lots'], 2, /--scale must be a number \(got "lots"\)/],
    ['missing --scale', async () => ['storage', 'seed', '--url', tempStorePath()], 2, /Missing required argument: scale/],
    ['seed into a store without the schema', async () => ['storage', 'seed', '--url', await createTestDatabase(), '--scale', '1'], 3, /has no Mosaic schema: run "mosaic storage init/],
    ['seed into a PGlite directory that does not exist', async () => ['storage', 'seed', '--url', tempStorePath(), '--scale', '1'], 2, /does not exist/],
  ];

  it.each(cases)('%s', async (_name, args, status, message) => {
    const result = await runCli(await args());
    const line = expectOneCleanLine(result.stderr, secret);
    expect(line).toMatch(message);
    expect(result.status).toBe(status);
    expect(result.stdout).toBe('');
  });

  it('seed into a store that already has data: exit 3, store unchanged', async () => {
    const url = await createTestDatabase();
    await runCli(['storage', 'init', '--url', url]);
    await runCli(['storage', 'seed', '--url', url, '--scale', '1']);
    const before = await digestsOf(url);
    const result = await runCli(['storage', 'seed', '--url', url, '--scale', '1']);
    expect(expectOneCleanLine(result.stderr)).toMatch(/already has data .*seed fills only an empty store/);
    expect(result.status).toBe(3);
    expect(await digestsOf(url)).toEqual(before);
  });
});
