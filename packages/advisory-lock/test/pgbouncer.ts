import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from '@mosaic/test-harness';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pgbouncer did not listen on ${port}`);
}

export interface Bouncer {
  url: string;
  stop(): Promise<void>;
}

/** A real PgBouncer in front of `targetUrl` (as the postgres user when root: it refuses root). */
export async function startPgbouncer(targetUrl: string, poolMode: 'transaction' | 'session'): Promise<Bouncer> {
  const bin = '/usr/sbin/pgbouncer';
  if (!existsSync(bin)) throw new Error('PgBouncer is not installed: run "bash tools/provision-services.sh" (installs Debian\'s pgbouncer).');
  const target = new URL(targetUrl);
  const dir = tempDir('pgbouncer');
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(ini, [
    '[databases]',
    `* = host=${target.hostname} port=${target.port || 5432} user=${decodeURIComponent(target.username) || 'postgres'}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    "unix_socket_dir = ''",
    'auth_type = any',
    `pool_mode = ${poolMode}`,
    'default_pool_size = 4',
    'max_client_conn = 50',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    '',
  ].join('\n'));
  const root = process.getuid?.() === 0;
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
    chownSync(ini, uid, gid);
  }
  const child: ChildProcess = root ? spawn('runuser', ['-u', 'postgres', '--', bin, ini], { stdio: 'ignore' }) : spawn(bin, [ini], { stdio: 'ignore' });
  await waitForPort(port, 10_000);
  const url = new URL(targetUrl);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
