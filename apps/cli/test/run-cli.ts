import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/mosaic.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built `mosaic` binary, as an operator would run it, with no TTY. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000, spawnOptions: SpawnOptions = {}): Promise<CliResult> {
  return finished(startCli(args, env, spawnOptions), args, timeoutMs);
}

/** Starts the binary and returns the child, for tests that signal it or race two of them. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, spawnOptions: SpawnOptions = {}): ChildProcess & { output: { stdout: string; stderr: string }; closed: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    // No FORCE_COLOR from the test runner: Node warns that it overrides NO_COLOR.
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, MOSAIC_DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...spawnOptions,
  }) as ChildProcess & { output: { stdout: string; stderr: string }; closed: Promise<number | null> };
  child.output = { stdout: '', stderr: '' };
  child.closed = new Promise((resolve) => child.on('close', (status) => resolve(status)));
  child.stdout!.on('data', (d: Buffer) => (child.output.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (child.output.stderr += d.toString()));
  return child;
}

export function finished(child: ReturnType<typeof startCli>, args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mosaic ${args.join(' ')} did not finish in ${timeoutMs} ms\n${child.output.stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    void child.closed.then((status) => {
      clearTimeout(timer);
      resolve({ status, ...child.output });
    });
  });
}

/** The operator-facing contract for a refusal: exactly one line, no stack, no secret. */
export function expectOneCleanLine(stderr: string, secret?: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${stderr}`);
  if (/^\s+at /m.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
  if (secret && stderr.includes(secret)) throw new Error(`secret printed:\n${stderr}`);
  return lines[0]!;
}
