#!/usr/bin/env node
// `npm run bench`: migrate-tier against pg_dump and psql COPY, in one run, on the same data and
// the same PostgreSQL server. See tools/bench/README.md for what is measured and how.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { copiedTables, loadDdl, MIGRATION_ORDER, SKIPPED_TABLES } from '@mosaic/schema';
import { startTcpProxy } from '@mosaic/test-harness/tcp-proxy';
import { chart } from './chart.mjs';
import { measure, median } from './measure.mjs';
import { evaluateTargets } from './targets.mjs';

const USAGE = `usage: npm run bench -- [--scale N | --scales 100,300,1000] [--reps 3] [--jobs N] [--url postgresql://...] [--out bench/results] [--fresh]
  --scale   seed scale (users); 1000 is about 1.0M rows (default 1000)
  --scales  several scales in one run, for the time-against-rows chart
  --reps    repetitions per method; the median is reported (default 3)
  --jobs    migrate-tier --jobs (default: the CLI's default)
  --url     a PostgreSQL superuser URL on the server to use (default $MOSAIC_BENCH_DATABASE_URL,
            else $MOSAIC_TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/postgres)
  --out     where the JSON and SVG results go (default bench/results)
  --fresh   seed the sources again even when a matching one exists
  --only    comma-separated method keys to run (default: all)`;

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../../..');
const MOSAIC = join(dirname(createRequire(import.meta.url).resolve('@mosaic/cli/package.json')), 'bin', 'mosaic.js');
const SEED = 7;

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        scale: { type: 'string' }, scales: { type: 'string' }, reps: { type: 'string', default: '3' }, jobs: { type: 'string' },
        url: { type: 'string' }, out: { type: 'string', default: 'bench/results' }, fresh: { type: 'boolean', default: false },
        only: { type: 'string' }, help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    fail(`${error.message}\n${USAGE}`);
  }
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name, text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a whole number of at least 1, got "${text}"`);
    return n;
  };
  const scales = (parsed.scales ?? parsed.scale ?? '1000').split(',').map((s) => positive(parsed.scales ? 'scales' : 'scale', s.trim()));
  const url = parsed.url ?? process.env.MOSAIC_BENCH_DATABASE_URL ?? process.env.MOSAIC_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  return {
    scales: [...new Set(scales)].sort((a, b) => a - b), reps: positive('reps', parsed.reps), jobs: parsed.jobs ? positive('jobs', parsed.jobs) : undefined,
    url, out: resolve(ROOT, parsed.out), fresh: parsed.fresh, only: parsed.only ? new Set(parsed.only.split(',')) : null,
  };
}

/** Runs a command to completion (set-up, not measured); exits the bench with its error if it fails. */
function run(cmd, args, what, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) fail(`${what} failed (${cmd} exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

const psql = (url, sql) => run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], `psql ${sql.slice(0, 60)}`).trim();
const mosaic = (args, what) => run(process.execPath, [MOSAIC, ...args], what, { NO_COLOR: '1', MOSAIC_DATABASE_URL: '' });
const withDb = (url, name) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

function recreate(admin, name) {
  psql(admin, `drop database if exists "${name}" with (force)`);
  psql(admin, `create database "${name}"`);
  return withDb(admin, name);
}

/** A seeded source, kept between runs (marked with its scale and seed) unless --fresh. */
function source(admin, kind, scale, fresh) {
  const marker = `mosaic-bench ${kind} scale=${scale} seed=${SEED} schema=${readFileSync(join(ROOT, 'packages/schema/schema-version.json'), 'utf8').trim()}`;
  if (kind === 'pglite') {
    const dir = join(tmpdir(), 'mosaic-bench', `pglite-s${scale}`);
    const markerFile = `${dir}.marker`;
    if (!fresh && existsSync(markerFile) && readFileSync(markerFile, 'utf8') === marker) return dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    console.error(`bench: seeding a PGlite store at scale ${scale} (${dir})`);
    mosaic(['storage', 'init', '--url', dir, '--tier', 'local'], 'init PGlite source');
    mosaic(['storage', 'seed', '--url', dir, '--scale', String(scale), '--seed', String(SEED)], 'seed PGlite source');
    writeFileSync(markerFile, marker);
    return dir;
  }
  const name = `mosaic_bench_${kind}_s${scale}`;
  const url = withDb(admin, name);
  const comment = psql(admin, `select coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname = '${name}'`);
  if (!fresh && comment === marker) return url;
  recreate(admin, name);
  console.error(`bench: seeding a ${kind} PostgreSQL source at scale ${scale} (${name})`);
  mosaic(['storage', 'init', '--url', url, '--tier', kind], `init ${kind} source`);
  mosaic(['storage', 'seed', '--url', url, '--scale', String(scale), '--seed', String(SEED)], `seed ${kind} source`);
  psql(url, 'vacuum analyze');
  psql(admin, `comment on database "${name}" is '${marker}'`);
  return url;
}

const COPIED = copiedTables(MIGRATION_ORDER);
const SKIPPED = Object.keys(SKIPPED_TABLES);

/** Rows and on-disk bytes (heap + TOAST) of the tables migrate-tier copies. */
function size(url) {
  const list = COPIED.map((t) => `'${t}'`).join(',');
  const [rows, bytes] = psql(url, `select (select sum(n_live_tup) from pg_stat_user_tables where schemaname = 'public' and relname in (${list}))::bigint,
    (select sum(pg_table_size(c.oid)) from pg_class c where c.relnamespace = 'public'::regnamespace and c.relname in (${list}))::bigint`).split('|');
  return { rows: Number(rows), bytes: Number(bytes) };
}

/** Exact row counts of the copied tables (n_live_tup is an estimate). */
function rowCount(url) {
  return Number(psql(url, `select ${COPIED.map((t) => `(select count(*) from "${t}")`).join(' + ')}`));
}

/** A target with the federated schema and no rows: what the baselines load into. */
function schemaOnlyTarget(admin, name) {
  const url = recreate(admin, name);
  mosaic(['storage', 'init', '--url', url, '--tier', 'federated'], 'init a baseline target');
  return url;
}

/** Non-generated columns of a table, in order: what COPY moves (the target computes the rest). */
function copyColumns(url, table) {
  return psql(url, `select string_agg(quote_ident(attname), ', ' order by attnum) from pg_attribute
    where attrelid = 'public.${table}'::regclass and attnum > 0 and not attisdropped and attgenerated = ''`);
}

const methods = {
  /**
   * Baseline A: what an operator would reach for, `pg_dump | psql` into an empty database.
   * A whole-database dump (schema + data; skipped tables' data excluded), so indexes and
   * foreign keys come after the data, as pg_restore does. (`--data-only` cannot load into an
   * empty database, and into one with the schema it would maintain the HNSW index vector by
   * vector: far slower, and a baseline that flatters.)
   */
  async pg_dump(ctx, src) {
    const target = recreate(ctx.admin, 'mosaic_bench_target_a');
    const m = await measure([
      { cmd: 'pg_dump', args: [...SKIPPED.map((t) => `--exclude-table-data=public.${t}`), '-d', src] },
      { cmd: 'psql', args: ['-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1', '-d', target] },
    ]);
    return { ...m, target };
  },
  /**
   * Baseline A on the insights table alone, in pg_restore's order: its data into the table
   * with no index and no foreign key, then the HNSW index built.
   */
  async pg_dump_insights(ctx, src) {
    const target = schemaOnlyTarget(ctx.admin, 'mosaic_bench_target_a');
    const index = psql(target, "select pg_get_indexdef('insights_embedding_hnsw'::regclass)");
    psql(target, `drop index insights_embedding_hnsw; ${psql(target, "select string_agg(format('alter table insights drop constraint %I', conname), '; ') from pg_constraint where conrelid = 'insights'::regclass and contype = 'f'")}`);
    const load = await measure([
      { cmd: 'pg_dump', args: ['--data-only', '--table=public.insights', '-d', src] },
      { cmd: 'psql', args: ['-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1', '-d', target] },
    ]);
    const build = await measure([{ cmd: 'psql', args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target, '-c', index] }]);
    return { seconds: load.seconds + build.seconds, peakRssMb: Math.max(load.peakRssMb, build.peakRssMb), target };
  },
  /**
   * Baseline B, the practical floor for the same end state: one binary COPY pipe per table with
   * psql into the tables without foreign keys and secondary indexes, then those built (with the
   * same maintenance_work_mem migrate-tier uses). Nothing is journaled, nothing runs in parallel.
   */
  async psql_copy(ctx, src, name = 'mosaic_bench_target_b') {
    const target = schemaOnlyTarget(ctx.admin, name);
    const ddl = loadDdl('federated').filter((d) => COPIED.includes(d.table));
    psql(target, ddl.map((d) => (d.kind === 'index' ? `drop index "${d.name}"` : `alter table "${d.table}" drop constraint "${d.name}"`)).join('; '));
    let seconds = 0;
    let peakRssMb = 0;
    for (const table of COPIED) {
      const cols = copyColumns(src, table);
      const m = await measure([
        { cmd: 'psql', args: ['-X', '-q', '-d', src, '-c', `COPY (SELECT ${cols} FROM "${table}") TO STDOUT (FORMAT binary)`] },
        { cmd: 'psql', args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target, '-c', `COPY "${table}" (${cols}) FROM STDIN (FORMAT binary)`] },
      ]);
      seconds += m.seconds;
      peakRssMb = Math.max(peakRssMb, m.peakRssMb);
    }
    const ordered = [...ddl.filter((d) => d.kind === 'index'), ...ddl.filter((d) => d.kind === 'foreign-key')];
    const post = await measure([{ cmd: 'psql', args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target, '-c', "SET maintenance_work_mem = '1GB'", ...ordered.flatMap((d) => ['-c', d.sql])] }]);
    return { seconds: seconds + post.seconds, peakRssMb: Math.max(peakRssMb, post.peakRssMb), target };
  },
  async migrate(ctx, src, _table, name = 'mosaic_bench_target_m') {
    const target = recreate(ctx.admin, name);
    return migrateInto(ctx, src, target);
  },
  /**
   * Baseline A with the target on another host: the same `pg_dump | psql`, psql connected
   * through the simulated link (WAN below), the source local to pg_dump.
   */
  async pg_dump_wan(ctx, src) {
    const target = recreate(ctx.admin, 'mosaic_bench_target_w');
    const m = await measure([
      { cmd: 'pg_dump', args: [...SKIPPED.map((t) => `--exclude-table-data=public.${t}`), '-d', src] },
      { cmd: 'psql', args: ['-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1', '-d', ctx.link.url(target)] },
    ]);
    return { ...m, target };
  },
  /**
   * A converge re-run after 1% of the rows changed in the source: a copy of the source migrated
   * (not timed), then in it 0.5% of messages updated and 0.5% deleted, 1% of agent_logs and
   * events deleted, 1% of insights updated (random rows, fixed seed), then the re-run timed.
   */
  async converge_1pct(ctx, src) {
    const name = 'mosaic_bench_source_c';
    psql(ctx.admin, `drop database if exists "${name}" with (force)`);
    psql(ctx.admin, `create database "${name}" template "${new URL(src).pathname.slice(1)}"`);
    const copy = withDb(ctx.admin, name);
    const target = recreate(ctx.admin, 'mosaic_bench_target_c');
    await migrateInto(ctx, copy, target);
    const changed = psql(copy, `select setseed(0.42);
      with u as (update messages set content = content || ' (edited)' where random() < 0.005 returning 1),
           d as (delete from messages where random() < 0.005 returning 1),
           l as (delete from agent_logs where random() < 0.01 returning 1),
           e as (delete from events where random() < 0.01 returning 1),
           i as (update insights set content = content || ' (edited)' where random() < 0.01 returning 1)
      select (select count(*) from u) + (select count(*) from d) + (select count(*) from l) + (select count(*) from e) + (select count(*) from i)`).split('\n').at(-1);
    console.error(`bench: converge re-run after ${changed} rows changed or deleted in the source`);
    const m = await migrateInto(ctx, copy, target);
    if (m.report.mode !== 'converge') fail(`the re-run planned "${m.report.mode}", expected "converge"`);
    if (!ctx.convergeVerified) {
      await verify(copy, target); // correctness once, not timed
      ctx.convergeVerified = true;
    }
    return m;
  },
  /** migrate-tier with the target through the same link. */
  async migrate_wan(ctx, src) {
    const target = recreate(ctx.admin, 'mosaic_bench_target_v');
    psql(target, 'create extension vector');
    const m = await migrateInto(ctx, src, ctx.link.url(target));
    return { ...m, target };
  },
};

/** The link of the WAN rows: a 10 ms round trip and 200 Mbit/s each way (tools/bench/README.md). */
export const WAN = { roundTripMs: 10, mbitPerSecond: 200 };

async function migrateInto(ctx, src, target) {
  const m = await measure([{
    cmd: process.execPath,
    args: [MOSAIC, 'storage', 'migrate-tier', '--source', src, '--to', 'federated', '--target-url', target, '--yes', '--json', '--no-verify', ...(ctx.jobs ? ['--jobs', String(ctx.jobs)] : [])],
    env: { NO_COLOR: '1', MOSAIC_DATABASE_URL: '' },
  }]);
  const report = JSON.parse(m.stdout);
  if (!report.result?.ok) fail(`migrate-tier did not succeed: ${JSON.stringify(report.result?.error)}`);
  // A run with --no-verify leaves its source frozen (refusing writes, freeze triggers in its
  // schema); the next method reads, dumps or edits the same source: lift it, untimed.
  mosaic(['storage', 'unfence', '--url', src, '--yes'], 'unfence the source');
  return { ...m, target, report };
}

async function verify(src, target) {
  const m = await measure([{ cmd: process.execPath, args: [MOSAIC, 'storage', 'verify', '--source', src, '--target-url', target, '--json'], env: { NO_COLOR: '1', MOSAIC_DATABASE_URL: '' } }]);
  if (!JSON.parse(m.stdout).ok) fail(`verify found differences between ${src} and ${target}`);
  return m;
}

/** Methods on the sources without vectors: compared with A' (pg_dump of the same data). */
const NO_VECTORS = new Set(['pg_dump_std', 'psql_copy_std', 'migrate_pg_std', 'migrate_pglite']);

const LABELS = {
  pg_dump: 'pg_dump | psql (A)',
  psql_copy: 'psql COPY binary pipes (B)',
  migrate_pg: 'migrate-tier PG -> PG',
  rerun: 'migrate-tier re-run (all conflict)',
  converge_1pct: 'migrate-tier re-run, 1% of rows changed',
  verify: 'verify PG -> PG',
  pg_dump_std: 'pg_dump | psql, no vectors (A\')',
  psql_copy_std: 'psql COPY binary pipes, no vectors (B\')',
  migrate_pg_std: 'migrate-tier PG -> PG, no vectors',
  migrate_pglite: 'migrate-tier PGlite -> PG',
  pg_dump_insights: 'pg_dump | psql, insights + index',
  migrate_insights: 'migrate-tier, insights + index',
  pg_dump_wan: 'pg_dump | psql, target over 10 ms/200 Mbit',
  migrate_wan: 'migrate-tier PG -> PG, target over 10 ms/200 Mbit',
};

/** Methods whose target sits behind the simulated link: compared with pg_dump over the same link. */
const OVER_LINK = new Set(['pg_dump_wan', 'migrate_wan']);

async function benchScale(ctx, scale) {
  const want = (key) => !ctx.only || ctx.only.has(key);
  // Only the sources the chosen methods read are seeded (--only pg_dump_wan,migrate_wan seeds one).
  const stdOnly = ctx.only && [...ctx.only].every((k) => NO_VECTORS.has(k));
  const std = ['pg_dump_std', 'psql_copy_std', 'migrate_pg_std'].some(want) ? source(ctx.admin, 'standalone', scale, ctx.fresh) : undefined;
  // A run of the methods without vectors alone does not seed the federated source (its HNSW index
  // is maintained row by row while it seeds: minutes at scale 1000); rows are then counted in std.
  const fed = stdOnly && std ? std : source(ctx.admin, 'federated', scale, ctx.fresh);
  const lite = want('migrate_pglite') ? source(ctx.admin, 'pglite', scale, ctx.fresh) : undefined;
  const rows = rowCount(fed);
  const fedSize = size(fed);
  const stdSize = size(std ?? fed);
  const insightRows = Number(psql(fed, 'select count(*) from insights'));
  const insightBytes = Number(psql(fed, "select pg_table_size('insights')"));
  const runs = Object.fromEntries(Object.keys(LABELS).map((k) => [k, []]));
  const record = (key, m) => runs[key].push({ seconds: m.seconds, peakRssMb: m.peakRssMb });

  for (let rep = 1; rep <= ctx.reps; rep++) {
    console.error(`bench: scale ${scale}, repetition ${rep}/${ctx.reps}`);
    if (want('pg_dump')) record('pg_dump', await methods.pg_dump(ctx, fed));
    if (want('psql_copy')) record('psql_copy', await methods.psql_copy(ctx, fed));
    if (want('migrate_pg') || want('rerun') || want('verify')) {
      const m = await methods.migrate(ctx, fed);
      record('migrate_pg', m);
      // The insights table's copy, plus its index build and foreign keys at the end.
      const insights = m.report.result.tables.find((t) => t.table === 'insights');
      const rebuilt = m.report.result.rebuilt.filter((d) => d.table === 'insights' && d.kind === 'index');
      runs.migrate_insights.push({ seconds: insights.seconds + rebuilt.reduce((n, d) => n + d.seconds, 0), peakRssMb: m.peakRssMb });
      if (want('rerun')) {
        const again = await migrateInto(ctx, fed, m.target);
        if (again.report.mode !== 'converge') fail(`the re-run planned "${again.report.mode}", expected "converge"`);
        record('rerun', again);
      }
      record('verify', await verify(fed, m.target));
    }
    if (want('converge_1pct')) record('converge_1pct', await methods.converge_1pct(ctx, fed));
    if (want('pg_dump_insights')) record('pg_dump_insights', await methods.pg_dump_insights(ctx, fed));
    if (want('pg_dump_std')) record('pg_dump_std', await methods.pg_dump(ctx, std));
    if (want('psql_copy_std')) record('psql_copy_std', await methods.psql_copy(ctx, std, 'mosaic_bench_target_bs'));
    if (want('migrate_pg_std')) record('migrate_pg_std', await methods.migrate(ctx, std, undefined, 'mosaic_bench_target_s'));
    if (want('migrate_pglite')) {
      const m = await methods.migrate(ctx, lite, undefined, 'mosaic_bench_target_l');
      record('migrate_pglite', m);
      if (rep === 1) await verify(lite, m.target); // correctness once, not timed
    }
    if (want('pg_dump_wan')) record('pg_dump_wan', await methods.pg_dump_wan(ctx, fed));
    if (want('migrate_wan')) {
      const m = await methods.migrate_wan(ctx, fed);
      record('migrate_wan', m);
      if (rep === 1) await verify(fed, m.target); // correctness once, not timed (directly, not over the link)
    }
  }
  for (const name of ['mosaic_bench_target_a', 'mosaic_bench_target_b', 'mosaic_bench_target_bs', 'mosaic_bench_target_m', 'mosaic_bench_target_s', 'mosaic_bench_target_l', 'mosaic_bench_target_w', 'mosaic_bench_target_v', 'mosaic_bench_target_c', 'mosaic_bench_source_c']) psql(ctx.admin, `drop database if exists "${name}" with (force)`);

  const summary = (key) => {
    const r = runs[key];
    if (r.length === 0) return null;
    const seconds = median(r.map((x) => x.seconds));
    const isInsights = key.endsWith('insights');
    const n = isInsights ? insightRows : rows;
    const bytes = isInsights ? insightBytes : NO_VECTORS.has(key) ? stdSize.bytes : fedSize.bytes;
    return {
      key, label: LABELS[key], rows: n, seconds, rowsPerSecond: Math.round(n / seconds), mbPerSecond: bytes / 1048576 / seconds,
      peakRssMb: Math.max(...r.map((x) => x.peakRssMb)), runs: r,
    };
  };
  const list = Object.keys(LABELS).map(summary).filter(Boolean);
  const by = Object.fromEntries(list.map((m) => [m.key, m]));
  for (const m of list) {
    const a = m.key.endsWith('insights') ? by.pg_dump_insights : NO_VECTORS.has(m.key) ? by.pg_dump_std : OVER_LINK.has(m.key) ? by.pg_dump_wan : by.pg_dump;
    m.vsA = a ? m.seconds / a.seconds : null;
    // B' (the psql COPY floor on the rows without vectors) for the methods without vectors.
    const b = NO_VECTORS.has(m.key) ? by.psql_copy_std : by.psql_copy;
    m.vsB = b && !m.key.endsWith('insights') && !OVER_LINK.has(m.key) ? m.seconds / b.seconds : null;
  }
  return { scale, seed: SEED, rows, bytes: { federated: fedSize.bytes, standalone: stdSize.bytes }, reps: ctx.reps, methods: list };
}

function machine(admin) {
  const cpu = cpus();
  const server = psql(admin, 'select version()').split(',')[0];
  // Its exports do not include package.json; read the copy the CLI resolves (hoisted).
  const pglite = JSON.parse(readFileSync(join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')).version;
  return {
    cpu: `${cpu[0]?.model ?? 'unknown'} x${cpu.length}`, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version,
    server, pglite, os: readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.*)"/)?.[1] ?? process.platform,
  };
}

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function printTable(result) {
  console.log(`\nscale ${result.scale}: ${result.rows.toLocaleString('en')} rows, median of ${result.reps}`);
  console.log(`${pad('method', 52)}${lpad('rows', 11)}${lpad('s', 8)}${lpad('rows/s', 10)}${lpad('MB/s', 8)}${lpad('peak RSS', 10)}${lpad('x A', 7)}${lpad('x B', 7)}`);
  for (const m of result.methods) {
    console.log(`${pad(m.label, 52)}${lpad(m.rows.toLocaleString('en'), 11)}${lpad(m.seconds.toFixed(1), 8)}${lpad(m.rowsPerSecond.toLocaleString('en'), 10)}${lpad(m.mbPerSecond.toFixed(1), 8)}${lpad(`${Math.round(m.peakRssMb)} MB`, 10)}${lpad(m.vsA == null ? '' : m.vsA.toFixed(2), 7)}${lpad(m.vsB == null ? '' : m.vsB.toFixed(2), 7)}`);
  }
}

async function main() {
  const opts = options();
  const version = spawnSync('psql', ['-X', '-At', '-d', opts.url, '-c', 'select rolsuper from pg_roles where rolname = current_user'], { encoding: 'utf8' });
  if (version.status !== 0) fail(`cannot reach PostgreSQL at ${opts.url.replace(/:[^:@/]*@/, ':***@')}: ${version.stderr.trim().split('\n')[0]} (start it with: bash tools/provision-services.sh)`);
  if (version.stdout.trim() !== 't') fail('the baselines need a superuser (pg_dump --disable-triggers, session_replication_role): pass --url with one');
  const dump = spawnSync('pg_dump', ['--version'], { encoding: 'utf8' }).stdout.match(/(\d+)\./)?.[1];
  const server = psql(opts.url, "select current_setting('server_version_num')::int / 10000");
  if (Number(dump) < Number(server)) fail(`pg_dump ${dump} cannot dump PostgreSQL ${server} (the baseline): pass --url of a PostgreSQL ${dump} server, e.g. postgresql://postgres@127.0.0.1:5432/postgres`);
  const upstream = new URL(opts.url);
  const link = await startTcpProxy({ host: upstream.hostname || '127.0.0.1', port: Number(upstream.port || 5432) }, WAN);
  const ctx = { admin: opts.url, reps: opts.reps, jobs: opts.jobs, fresh: opts.fresh, only: opts.only, link };
  const results = [];
  try {
    for (const scale of opts.scales) {
      const result = await benchScale(ctx, scale);
      printTable(result);
      results.push(result);
    }
  } finally {
    await link.close();
  }
  const m = machine(opts.url);
  const targets = evaluateTargets(results);
  console.log('\ntargets:');
  for (const t of targets) console.log(`  ${t.met ? 'met ' : 'MISS'}  ${t.name}: ${t.value} (limit ${t.limit})`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(opts.out, { recursive: true });
  const doc = { version: 1, date: new Date().toISOString(), command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(), machine: m, results, targets };
  const machineLine = `${m.cpu}, ${m.memoryGb} GiB, ${m.os}, Node ${m.node}, ${m.server}, PGlite ${m.pglite}`;
  const name = `bench-${opts.scales.join('-')}-${stamp}`;
  writeFileSync(join(opts.out, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(opts.out, `${name}.svg`), chart(results, machineLine));
  console.log(`\nresults: ${join(opts.out, `${name}.json`)}\nchart:   ${join(opts.out, `${name}.svg`)}`);
}

await main();
