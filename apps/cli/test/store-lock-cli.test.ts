import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, tempDir, tempStorePath } from '@mosaic/test-harness';
import { expectMigrated, initSeed } from './migrate-helpers.js';
import { BIN, finished, runCli, startCli } from './run-cli.js';

/**
 * The PGlite store lock seen from the command line: a migration killed with SIGKILL (dead, or a
 * zombie nobody reaps) does not keep its store locked, and a second run on one store waits for
 * the first instead of exiting 3.
 */

const args = (source: string, target: string) => ['storage', 'migrate-tier', '--source', source, '--to', 'standalone', '--target-url', target, '--yes', '--batch-size', '200'];
const COPYING = /messages: \d+\/\d+ rows/;
const RUN_MS = 300_000;

/** /proc/PID/stat field 3 (R, S, D, Z...), undefined once the process is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 120_000, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('migrate-tier from a PGlite store after kill -9', () => {
  it('the process group killed with SIGKILL while it copies, then an immediate re-run: resumes, target equals source', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    // Its own process group, as a shell job or a service manager would start it.
    const child = startCli(args(source, target), {}, { detached: true });
    await until('the copy of messages', () => COPYING.test(child.output.stderr) || child.exitCode !== null, RUN_MS, () => child.output.stderr);
    expect(child.exitCode, child.output.stderr).toBeNull();
    process.kill(-child.pid!, 'SIGKILL');
    // No sleep and no wait for the exit: the lock file still names the killed process.
    expect(JSON.parse(readFileSync(join(source, 'mosaic.lock'), 'utf8')).pid).toBe(child.pid);
    const rerun = await runCli(args(source, target), {}, RUN_MS);
    expect(await child.closed).toBeNull();
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).not.toContain('STORE_LOCKED');
    expect(rerun.stdout).toContain('Precondition: target holds an unfinished run from this source: resuming it ✓');
    await expectMigrated(source, target, false);
    expect(existsSync(join(source, 'mosaic.lock'))).toBe(false);
  }, 600_000);

  it('a killed migration left a zombie by a parent that never reaps it: a re-run recovers the store', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    const logs = tempDir();
    const stderrFile = join(logs, 'migrate.err');
    // The migration is a child of sh, which then becomes `sleep` and never waits for it.
    const parent = spawn('sh', ['-c', '"$0" "$@" >"$LOG_DIR/migrate.out" 2>"$LOG_DIR/migrate.err" & echo "$!"; exec sleep 600', process.execPath, BIN, ...args(source, target)], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, MOSAIC_DATABASE_URL: '', LOG_DIR: logs },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    try {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await until('the pid of the migration', () => /^\d+\n/.test(out));
      const pid = Number(out.trim());
      const stderr = () => (existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8') : '');
      await until('the copy of messages', () => COPYING.test(stderr()) || procState(pid) === undefined || procState(pid) === 'Z', RUN_MS, stderr);
      expect(procState(pid), stderr()).not.toBe('Z');
      process.kill(pid, 'SIGKILL');
      await until('the killed migration to be a zombie', () => procState(pid) === 'Z', 30_000);
      expect(procState(pid)).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow(); // how it still looked alive to the old lock
      expect(JSON.parse(readFileSync(join(source, 'mosaic.lock'), 'utf8')).pid).toBe(pid);

      const rerun = await runCli(args(source, target), {}, RUN_MS);
      expect(rerun.status, rerun.stderr).toBe(0);
      expect(rerun.stderr).not.toContain('Waiting for the PGlite store lock');
      expect(rerun.stdout).toContain('resuming it ✓');
      expect(procState(pid)).toBe('Z'); // still unreaped: recovered without its parent's help
      await expectMigrated(source, target, false);
    } finally {
      try {
        process.kill(-parent.pid!, 'SIGKILL'); // sleep; its zombie child goes to init, which reaps it
      } catch {
        // already gone
      }
    }
  }, 600_000);
});

describe('two migrate-tier runs at once from one PGlite store', () => {
  it('the second waits for the store lock naming the first, both exit 0, the target equals the source', async () => {
    const source = tempStorePath();
    await initSeed(source, 'local', 5);
    const target = await createTestDatabase();
    const a = startCli(args(source, target));
    const b = startCli(args(source, target));
    const [ra, rb] = await Promise.all([finished(a, ['a'], RUN_MS), finished(b, ['b'], RUN_MS)]);
    expect(ra.status, ra.stderr).toBe(0);
    expect(rb.status, rb.stderr).toBe(0);
    const waits = /\[migrate-tier\] Waiting for the PGlite store lock on .*\n\[migrate-tier\] {3}held by pid (\d+) \(mosaic\.js storage migrate-tier .*\), since \d{4}-\S+; waited \d+ s\n/;
    const waitedA = waits.exec(ra.stderr);
    const waitedB = waits.exec(rb.stderr);
    expect(Boolean(waitedA) !== Boolean(waitedB), `exactly one waited:\n--- a\n${ra.stderr}\n--- b\n${rb.stderr}`).toBe(true);
    expect(Number((waitedA ?? waitedB)![1])).toBe(waitedA ? b.pid : a.pid);
    await expectMigrated(source, target, false);
    expect(existsSync(join(source, 'mosaic.lock'))).toBe(false);
  }, 600_000);

  it('--lock-timeout: gives up with exit 3 and one line naming the holder', async () => {
    const source = tempStorePath();
    const init = await runCli(['storage', 'init', '--url', source]);
    expect(init.status, init.stderr).toBe(0);
    // Another process with the store open, until killed.
    const script = `import { openDatabase } from '@mosaic/connection'; await openDatabase(${JSON.stringify(source)}); process.stdout.write('open\\n'); setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => holder.once('exit', r));
    try {
      await new Promise((resolve, reject) => {
        holder.stdout.once('data', resolve);
        holder.once('exit', () => reject(new Error('holder exited early')));
      });
      const b = await runCli(['storage', 'status', '--url', source, '--lock-timeout', '1'], {}, RUN_MS);
      expect(b.status, b.stderr).toBe(3);
      const lines = b.stderr.split('\n').filter(Boolean);
      expect(lines[0]).toBe(`[storage status] Waiting for the PGlite store lock on ${source}`);
      expect(lines[1]).toMatch(new RegExp(`^\\[storage status\\] {3}held by pid ${holder.pid} \\(node\\), since \\S+; waited 0 s of 1$`));
      expect(lines.at(-1)).toMatch(new RegExp(`^mosaic: Gave up after 1 s waiting for the PGlite store lock on .*: held by pid ${holder.pid} \\(node\\), since \\S+\\. Wait for that process to finish, or stop it; if it is gone, delete .*mosaic\\.lock\\.$`));
      const json = await runCli(['storage', 'status', '--url', source, '--lock-timeout', '0', '--json'], {}, RUN_MS);
      expect(json.status).toBe(3);
      expect(json.stderr.split('\n').filter(Boolean)).toHaveLength(1); // no waiting lines with --json
      // stdout holds the one document a script reads: here the error.
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'STORE_LOCK_TIMEOUT', exitStatus: 3 } });
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
  }, 600_000);
});
