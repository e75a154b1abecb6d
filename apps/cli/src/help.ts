/**
 * Examples and closing notes of `mosaic ... --help`. Kept apart from main.ts so the command
 * table stays readable, and written as a shell session (a `# why` line, then the command)
 * because yargs squeezes a described example into half the width, which breaks a URL mid-way.
 */

type Example = readonly [what: string, command: string];

/** `$TARGET` keeps the examples short enough for one line; each list that uses it sets it first. */
const TARGET_NOTE: Example = ['the target database, used below (an empty database the mosaic role owns)', "export TARGET='postgresql://mosaic:PASSWORD@db:5432/mosaic'"];

const EXAMPLES = {
  mosaic: [
    ['what is in the default store ($MOSAIC_DATABASE_URL, else ~/.mosaic/data)', '$0 storage status'],
    TARGET_NOTE,
    ['move it to a federated PostgreSQL: a dry run first, then for real', '$0 storage migrate-tier --to federated --target-url "$TARGET" --dry-run'],
    ['every command has its own flags and examples', '$0 storage migrate-tier --help'],
  ],
  storage: [
    ['engine, tier, pgvector, schema version and row counts of the default store', '$0 storage status'],
    ['a new local (PGlite) store with demo data', '$0 storage init --url ./demo-store && $0 storage seed --url ./demo-store --scale 10'],
    TARGET_NOTE,
    ['see what a migration would move, then move it and verify it', '$0 storage migrate-tier --to federated --target-url "$TARGET" --dry-run'],
    ['prove it again later (exit 4 and the differing keys when anything differs)', '$0 storage verify --target-url "$TARGET"'],
  ],
  status: [
    ['the default store ($MOSAIC_DATABASE_URL, else $MOSAIC_HOME/data)', '$0 storage status'],
    TARGET_NOTE,
    ['a federated store and its Valkey, as JSON for a script', '$0 storage status --url "$TARGET" --valkey-url redis://cache:6379 --json'],
  ],
  init: [
    ['a local (PGlite) store in a directory', '$0 storage init --url ~/.mosaic/data'],
    TARGET_NOTE,
    ['a federated store (a superuser has run CREATE EXTENSION vector in it)', '$0 storage init --url "$TARGET" --tier federated'],
    ['give up after 30 s if another run holds the Mosaic lock', '$0 storage init --url "$TARGET" --lock-timeout 30'],
  ],
  seed: [
    ['about 10,000 rows of demo data into an empty store', '$0 storage seed --url ~/.mosaic/data --scale 10'],
    ['the same data every time: same --seed and --scale; a JSON summary', '$0 storage seed --url ./demo-store --scale 100 --seed 7 --json'],
  ],
  'migrate-tier': [
    TARGET_NOTE,
    ['1. see what would move; writes nothing anywhere', '$0 storage migrate-tier --to federated --target-url "$TARGET" --dry-run'],
    ['2. move it (--yes: no prompt; required when stdin is not a terminal), then verify', '$0 storage migrate-tier --to federated --target-url "$TARGET" --yes'],
    [
      'tuned: another source, chunk size, parallelism, a JSON report, at most 600 s waiting for the lock',
      '$0 storage migrate-tier --to standalone --target-url "$TARGET" --yes \\\n' +
        '    --source /var/lib/mosaic/data --batch-size 20000 --jobs 4 --lock-timeout 600 --json',
    ],
    [
      're-run after the target was written (exit 3 otherwise): make it equal to the source again',
      '$0 storage migrate-tier --to federated --target-url "$TARGET" --yes \\\n' +
        '    --overwrite-target-changes',
    ],
  ],
  unfence: [
    ['roll back a migration: the old (retired) store takes writes again; asks first', '$0 storage unfence --url /var/lib/mosaic/data'],
    ['lift the freeze a killed migrate-tier left on a PostgreSQL source, no prompt, as JSON', '$0 storage unfence --url "$SOURCE" --yes --json'],
  ],
  verify: [
    TARGET_NOTE,
    ['the default store against the target: counts, checksums, target rules', '$0 storage verify --target-url "$TARGET"'],
    ['another source, as JSON (exit 4 and the differing keys when anything differs)', '$0 storage verify --source /var/lib/mosaic/data --target-url "$TARGET" --json'],
  ],
} satisfies Record<string, readonly Example[]>;

export type HelpTopic = keyof typeof EXAMPLES;

/**
 * yargs `.example()` pairs for a topic. The description is empty so yargs gives the command
 * the full width; a blank line separates examples.
 */
export function examples(topic: HelpTopic): [string, string][] {
  const list: readonly Example[] = EXAMPLES[topic];
  return list.map(([what, command], i) => [`# ${what}\n${command}${i < list.length - 1 ? '\n' : ''}`, '']);
}

/** Closing notes of `mosaic --help`: where defaults come from and what an exit status means. */
export const EPILOGUE = [
  'Environment: MOSAIC_DATABASE_URL (the default store), else MOSAIC_HOME (default ~/.mosaic)',
  '  whose data/ directory is the store; MOSAIC_VALKEY_URL (status checks Valkey); NO_COLOR;',
  '  MOSAIC_DEBUG=1 (stack traces).',
  'Exit status: 0 ok, 1 failure, 2 usage error or write refused, 3 precondition failed,',
  '  4 verification found differences, 130/143 interrupted.',
  'Operator guide: docs/migrating-to-federated.md',
].join('\n');

/** Closing note of `migrate-tier --help`. */
export const MIGRATE_EPILOGUE = [
  'Runs are idempotent: a stopped run resumes where it stopped, a finished one converges (deletes',
  'and upserts), unless the target was written since it finished (exit 3).',
  'A second run on the same target waits for the Mosaic lock and says who holds it.',
  'The source is frozen (it refuses every write) from before the snapshot to the end of the run:',
  'a failed or cancelled run lifts the freeze; a verified run retires the source for good and',
  'prints the configuration change; with --no-verify it stays frozen until a verified re-run',
  'retires it or "mosaic storage unfence" lifts it. --dry-run freezes nothing.',
  'Operator guide: docs/migrating-to-federated.md.',
].join('\n');

/** Closing note of `unfence --help`. */
export const UNFENCE_EPILOGUE = [
  'A verified migrate-tier retires its source: every write to it is refused (SQLSTATE MOSRT) and',
  'gateways refuse to start on it. unfence undoes that for an operator who rolls back, and lifts',
  'the freeze (SQLSTATE MOSFZ) a killed run left behind. It refuses (exit 3) while a live run',
  'holds the freeze: stopping that run lifts it.',
].join('\n');
