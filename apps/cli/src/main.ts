import { createRequire } from 'node:module';
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { TIERS } from '@mosaic/schema';
import type { Tier } from '@mosaic/schema';
import { initCommand } from './commands/init.js';
import { migrateTierCommand } from './commands/migrate-tier.js';
import { seedCommand } from './commands/seed.js';
import { statusCommand } from './commands/status.js';
import { unfenceCommand } from './commands/unfence.js';
import { verifyCommand } from './commands/verify.js';
import { defaultLocation } from './defaults.js';
import { describeError } from './errors.js';
import { EPILOGUE, examples, MIGRATE_EPILOGUE, UNFENCE_EPILOGUE } from './help.js';
import { EXIT } from './exit.js';
import { createOutput } from './output.js';
import type { Output } from './output.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

class YargsUsage extends Error {
  readonly code = 'USAGE';
}

type Handler = (out: Output) => Promise<number>;

/** "storage seed" from argv, for the pointer to the right --help. */
function helpPath(argv: string[]): string {
  const words = argv.filter((a) => !a.startsWith('-')).slice(0, 2);
  return words[0] === 'storage' ? words.join(' ') : '';
}

/**
 * Parses argv and runs one command; returns the exit status. Never calls process.exit:
 * bin.ts owns that, and tests call main() directly.
 */
export async function main(argv: string[]): Promise<number> {
  let run: { handler: Handler; json: boolean } | undefined;
  const schedule = (json: boolean, handler: Handler) => {
    run = { handler, json };
  };

  const cli = yargs(argv)
    .scriptName('mosaic')
    .usage('$0 <command>\n\nMosaic storage-tier tooling: inspect, seed, migrate and verify Mosaic stores.')
    .version(version)
    .strict()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? new YargsUsage(message);
    })
    // A number option given something else (`--lock-timeout abc`) arrives as NaN: say what was typed.
    .middleware((a) => {
      for (const [key, value] of Object.entries(a)) {
        if (typeof value !== 'number' || !Number.isNaN(value) || !/^[a-z]+(-[a-z]+)*$/.test(key)) continue;
        const at = argv.findIndex((w) => w === `--${key}` || w.startsWith(`--${key}=`));
        const typed = at < 0 ? '' : argv[at]!.includes('=') ? argv[at]!.slice(argv[at]!.indexOf('=') + 1) : (argv[at + 1] ?? '');
        throw new YargsUsage(`--${key} must be a number (got ${JSON.stringify(typed)})`);
      }
    }, true)
    .command('storage', 'Inspect and move Mosaic storage tiers', (storage: Argv) =>
      storage
        .option('connect-timeout', { type: 'number', default: 10, describe: 'Seconds to wait for a PostgreSQL server to answer' })
        .command(
          'status',
          'Show what is at a location: engine, tier, pgvector, schema version, row counts',
          (y) =>
            y
              .option('url', { type: 'string', describe: 'PostgreSQL URL or PGlite directory (default: $MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)' })
              .option('valkey-url', { type: 'string', default: process.env.MOSAIC_VALKEY_URL, defaultDescription: '$MOSAIC_VALKEY_URL', describe: 'Valkey/Redis URL to health-check for a federated store' })
              .option('lock-timeout', { type: 'number', describe: 'Give up (exit 3) after this many seconds waiting for a PGlite store another process has open; default: wait' })
              .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' })
              .example(examples('status')),
          (a) => schedule(a.json, (out) => statusCommand({ url: a.url ?? defaultLocation(), valkeyUrl: a['valkey-url'], lockTimeout: a['lock-timeout'], connectTimeout: a['connect-timeout'] }, out)),
        )
        .command(
          'init',
          'Create or upgrade the Mosaic schema at a location',
          (y) =>
            y
              .option('url', { type: 'string', describe: 'PostgreSQL URL or PGlite directory (default: $MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)' })
              .option('tier', { choices: TIERS, describe: 'Tier to create (default: local for a directory; federated for a database with pgvector installed, else standalone)' })
              .option('lock-timeout', { type: 'number', describe: 'Give up (exit 3) after this many seconds waiting for the Mosaic lock (or a PGlite store another process has open); default: wait' })
              .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' })
              .example(examples('init')),
          (a) => schedule(a.json, (out) => initCommand({ url: a.url ?? defaultLocation(), tier: a.tier as Tier | undefined, lockTimeout: a['lock-timeout'], connectTimeout: a['connect-timeout'] }, out)),
        )
        .command(
          'seed',
          'Fill an empty store with realistic, deterministic demo data',
          (y) =>
            y
              .option('url', { type: 'string', describe: 'PostgreSQL URL or PGlite directory (default: $MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)' })
              .option('scale', { type: 'number', demandOption: true, describe: "Users' worth of data: 1 is ~200 rows, 1000 is ~1,000,000 rows" })
              .option('seed', { type: 'number', default: 1, describe: 'Random seed: the same seed and scale give identical data' })
              .option('lock-timeout', { type: 'number', describe: 'Give up (exit 3) after this many seconds waiting for the Mosaic lock (or a PGlite store another process has open); default: wait' })
              .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' })
              .example(examples('seed')),
          (a) => schedule(a.json, (out) => seedCommand({ url: a.url ?? defaultLocation(), scale: a.scale, seed: a.seed, lockTimeout: a['lock-timeout'], connectTimeout: a['connect-timeout'] }, out)),
        )
        .command(
          'migrate-tier',
          'Move every byte of a store to the standalone or federated tier',
          (y) =>
            y
              .option('to', { choices: ['standalone', 'federated'] as const, demandOption: true, describe: 'Tier the target becomes' })
              .option('target-url', { type: 'string', demandOption: true, describe: 'PostgreSQL URL of the target database (empty, or holding an earlier run from this source)' })
              .option('source', { type: 'string', describe: 'Store to migrate (default: $MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)' })
              .option('dry-run', { type: 'boolean', default: false, describe: 'Show what would be migrated; write nothing anywhere' })
              .option('yes', { type: 'boolean', default: false, describe: 'Do not ask for confirmation (required when stdin is not a terminal)' })
              .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document (plan and result) on stdout' })
              .option('batch-size', { type: 'number', default: 50_000, describe: 'Rows per chunk: one transaction and one journal entry each' })
              .option('jobs', { type: 'number', default: 2, describe: 'Tables copied at once (a table starts when its parents are done)' })
              .option('lock-timeout', { type: 'number', describe: 'Give up (exit 3) after this many seconds waiting for another run (the Mosaic lock, a PGlite source), or for a lock any statement of the run waits on; default: wait' })
              .option('verify', { type: 'boolean', default: true, describe: 'Verify the target against the source at the end (--no-verify skips it)' })
              .option('overwrite-target-changes', { type: 'boolean', default: false, describe: 'Re-run even if the target was written since its finished migration: those writes are replaced by the source (refused otherwise, exit 3)' })
              .option('freeze-timeout', { type: 'number', default: 30, describe: 'Seconds to wait, when freezing the source, for writes in flight and for every live gateway to acknowledge; then lift the freeze and give up (exit 3)' })
              .example(examples('migrate-tier'))
              .epilogue(MIGRATE_EPILOGUE),
          (a) => schedule(a.json, (out) => migrateTierCommand({
            to: a.to as Tier, source: a.source ?? defaultLocation(), targetUrl: a['target-url'], dryRun: a['dry-run'], yes: a.yes,
            batchSize: a['batch-size'], jobs: a.jobs, lockTimeout: a['lock-timeout'], connectTimeout: a['connect-timeout'], verify: a.verify,
            overwriteTargetChanges: a['overwrite-target-changes'], freezeTimeout: a['freeze-timeout'],
          }, out)),
        )
        .command(
          'verify',
          'Prove a target holds what the source holds: counts, checksums, differing keys, rules',
          (y) =>
            y
              .option('source', { type: 'string', describe: 'The migrated store (default: $MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)' })
              .option('target-url', { type: 'string', demandOption: true, describe: 'PostgreSQL URL of the target' })
              .option('lock-timeout', { type: 'number', describe: 'Give up (exit 3) after this many seconds waiting for a PGlite source another process has open; default: wait' })
              .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' })
              .example(examples('verify')),
          (a) => schedule(a.json, (out) => verifyCommand({ source: a.source ?? defaultLocation(), targetUrl: a['target-url'], lockTimeout: a['lock-timeout'], connectTimeout: a['connect-timeout'] }, out)),
        )
        .command(
          'unfence',
          'Let a store take writes again: undo the fence of a migrated (retired) store, or the freeze a killed run left',
          (y) =>
            y
              .option('url', { type: 'string', describe: 'PostgreSQL URL or PGlite directory (default: $MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)' })
              .option('yes', { type: 'boolean', default: false, describe: 'Do not ask for confirmation when the store is retired (required when stdin is not a terminal)' })
              .option('lock-timeout', { type: 'number', describe: 'Give up (exit 3) after this many seconds waiting for a PGlite store another process has open; also bounds the wait for sessions holding its tables (default 30)' })
              .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' })
              .example(examples('unfence'))
              .epilogue(UNFENCE_EPILOGUE),
          (a) => schedule(a.json, (out) => unfenceCommand({ url: a.url ?? defaultLocation(), yes: a.yes, lockTimeout: a['lock-timeout'], connectTimeout: a['connect-timeout'] }, out)),
        )
        .example(examples('storage'))
        .demandCommand(1, 'Name a storage command: status, init, seed, migrate-tier, verify, unfence.'),
    )
    .demandCommand(1, 'Name a command, e.g. "mosaic storage init --help".')
    .example(examples('mosaic'))
    .epilogue(EPILOGUE)
    .help();

  try {
    await cli.parseAsync();
  } catch (error) {
    const message = (error as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    process.stderr.write(`mosaic: ${message} (see "${['mosaic', helpPath(argv)].filter(Boolean).join(' ')} --help")\n`);
    return EXIT.USAGE;
  }
  if (!run) return EXIT.OK; // --help or --version was printed
  const out = createOutput({ json: run.json });
  try {
    return await run.handler(out);
  } catch (error) {
    const { line, status, code } = describeError(error);
    out.error(`mosaic: ${line}`);
    // --json: a script reads stdout; a failure before any document is one too (the line also on stderr).
    if (out.json && !out.wroteData) out.data(JSON.stringify({ ok: false, error: { code, message: line, exitStatus: status } }));
    if (process.env.MOSAIC_DEBUG === '1') out.error(String((error as Error).stack));
    return status;
  }
}
