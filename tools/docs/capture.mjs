// Runs the real, built `mosaic` binary through the operator guide's story, against a scratch
// PGlite store and scratch PostgreSQL targets, and returns each captured step as a Markdown
// block, normalised (see normalise.mjs) so a capture on any machine prints the same text.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lock from '@mosaic/advisory-lock';
import { holderSql } from './guide-sections.mjs';
import { normalise } from './normalise.mjs';
import { adminClient, scratchDir, scratchTarget } from './scratch.mjs';

const BIN = fileURLToPath(new URL('../../apps/cli/bin/mosaic.js', import.meta.url));
const TAG = '[migrate-tier]';

/** One run of the binary without a terminal, as CI or a script runs it. */
function mosaic(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

function expectStatus(result, status, what) {
  if (result.status !== status) {
    throw new Error(`${what}: expected exit ${status}, got ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

const lines = (text) => text.split('\n').filter((l) => l !== '');
const console_ = (...parts) => `\`\`\`console\n${parts.flat().filter((p) => p !== undefined).join('\n')}\n\`\`\`\n`;

export async function captureGuide({ adminUrl }) {
  const home = scratchDir();
  const target = await scratchTarget(adminUrl);
  const crashTarget = await scratchTarget(adminUrl);
  const env = { PATH: process.env.PATH, HOME: home.dir, MOSAIC_HOME: join(home.dir, '.mosaic'), NO_COLOR: '1', TZ: 'UTC', LANG: 'C.UTF-8' };
  // The command as the guide shows it: the target is "$TARGET", set once in the guide's text.
  const shown = (args) => `$ mosaic ${args.map((a) => (a === target.url || a === crashTarget.url ? '"$TARGET"' : a)).join(' ')}`;
  const run = (args, extra = {}) => mosaic(args, { ...env, ...extra });
  const literals = [
    [`${target.name}:***@${target.hostPort}/${target.name}`, 'mosaic:***@db:5432/mosaic'],
    [`${crashTarget.name}:***@${crashTarget.hostPort}/${crashTarget.name}`, 'mosaic:***@db:5432/mosaic'],
    [target.name, 'mosaic'],
    [crashTarget.name, 'mosaic'],
    [env.MOSAIC_HOME, '~/.mosaic'],
    [home.dir, '~'],
  ];
  try {
    expectStatus(await run(['storage', 'init']), 0, 'init');
    expectStatus(await run(['storage', 'seed', '--scale', '3']), 0, 'seed');
    const to = ['storage', 'migrate-tier', '--to', 'federated', '--target-url', target.url];
    const sections = {};

    const dry = expectStatus(await run([...to, '--dry-run']), 0, 'dry run');
    sections['dry-run'] = console_(shown([...to, '--dry-run']), lines(dry.stdout), lines(dry.stderr));

    const refused = expectStatus(await run(to), 2, 'run without --yes');
    sections['confirm'] = console_(
      shown(to), '… the plan, as in the dry run …', lines(refused.stderr), '$ echo $?', String(refused.status),
    );

    const real = expectStatus(await run([...to, '--yes']), 0, 'run');
    sections['run'] = console_(shown([...to, '--yes']), lines(real.stdout));
    // Per-table progress lines interleave differently on every run (--jobs 2); the phases do not.
    sections['run-stderr'] = console_(lines(real.stderr).filter((l) => !l.startsWith(`${TAG}   `)));

    const again = expectStatus(await run([...to, '--yes']), 0, 'second run');
    const againLines = lines(again.stdout);
    sections['rerun'] = console_(
      shown([...to, '--yes']),
      againLines.filter((l) => l.startsWith(TAG) && !l.includes('NOTE')),
    );

    sections['resume'] = await captureResume(run, shown, crashTarget.url);
    sections['lock'] = await captureLock(run, shown, to, adminUrl, target.name);

    const verified = expectStatus(await run(['storage', 'verify', '--target-url', target.url]), 0, 'verify');
    sections['verify'] = console_(shown(['storage', 'verify', '--target-url', target.url]), lines(verified.stdout), lines(verified.stderr));

    const status = expectStatus(await run(['storage', 'status', '--url', target.url]), 0, 'status');
    sections['status'] = console_(shown(['storage', 'status', '--url', target.url]), lines(status.stdout), lines(status.stderr));

    return Object.fromEntries(Object.entries(sections).map(([name, body]) => [name, normalise(body, literals)]));
  } finally {
    await target.drop();
    await crashTarget.drop();
    home.remove();
  }
}

/** A run killed (SIGKILL) in the middle of `messages`, then the same command again. */
async function captureResume(run, shown, url) {
  // One job and small chunks, so exactly the same tables are done when the kill lands.
  const args = ['storage', 'migrate-tier', '--to', 'federated', '--target-url', url, '--yes', '--jobs', '1', '--batch-size', '100'];
  const killed = await run(args, { MOSAIC_FAILPOINT: 'chunk:messages:2' });
  if (killed.signal !== 'SIGKILL') throw new Error(`the failpoint did not kill the run:\n${killed.stdout}\n${killed.stderr}`);
  const resumed = expectStatus(await run(args), 0, 'resumed run');
  const out = lines(resumed.stdout);
  const planEnd = out.findIndex((l) => l.includes('NOTE'));
  return console_(
    `${shown(args)}`,
    '# killed by SIGKILL while copying messages (here by the test hook MOSAIC_FAILPOINT=chunk:messages:2)',
    '$ echo $?',
    '137',
    shown(args),
    out.slice(0, planEnd + 1),
    '  …',
    out.filter((l) => /MIGRATION COMPLETE|Verified:/.test(l)),
  );
}

/**
 * Another session holds the Mosaic lock on the target (here: an operator's psql-like session
 * that ran pg_advisory_lock itself); a run waits, names the holder, and gives up after
 * --lock-timeout. Then the holder is found in pg_locks and ended.
 */
async function captureLock(run, shown, to, adminUrl, database) {
  const holder = adminClient(adminUrl, database, 'maintenance');
  const admin = adminClient(adminUrl, database, 'docs');
  try {
    const session = await holder.reserve();
    await session.unsafe(`select pg_advisory_lock(${lock.MOSAIC_LOCK_KEY}::bigint)`);
    const args = [...to, '--yes', '--lock-timeout', '2'];
    const waited = expectStatus(await run(args), 3, 'run while the lock is held');
    const found = await admin.unsafe(holderSql(lock));
    const pid = found[0]?.pid;
    if (!pid) throw new Error('the holder query found no holder');
    // pid and start differ on every run: placeholders, as normalise() puts in the CLI's lines.
    const table = psqlTable(['pid', 'application_name', 'backend_start'], found.map((r) => ['<pid>', r.application_name, '<timestamp>']));
    const [ended] = await admin.unsafe(`select pg_terminate_backend(${pid}) as terminated`);
    await holder.end({ timeout: 1 }).catch(() => {});
    const after = await admin.unsafe(holderSql(lock));
    return [
      console_(shown(args), '… the plan on stdout …', lines(waited.stderr), '$ echo $?', String(waited.status)),
      'Then, in the target database:',
      '',
      console_(
        'mosaic=# select l.pid, a.application_name, a.backend_start from pg_locks l join pg_stat_activity a using (pid) where …;',
        table,
        'mosaic=# select pg_terminate_backend(<pid>);',
        psqlTable(['pg_terminate_backend'], [[ended.terminated ? 't' : 'f']]),
        'mosaic=# -- the same pg_locks query again',
        psqlTable(['pid', 'application_name', 'backend_start'], after.map((r) => [r.pid, r.application_name, r.backend_start])),
      ),
    ].join('\n');
  } finally {
    await holder.end({ timeout: 1 }).catch(() => {});
    await admin.end({ timeout: 5 });
  }
}

/** Rows in psql's aligned layout, "(N rows)" included. */
function psqlTable(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => ` ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')}`.trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w + 2)).join('+'), ...rows.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n');
}
