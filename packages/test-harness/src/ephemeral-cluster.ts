import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A role the harness creates with a password, authenticated by scram-sha-256. */
export const PASSWORD_ROLE = 'mosaic_password_user';
export const PASSWORD_ROLE_SECRET = 'correct-horse-battery';

export interface EphemeralCluster {
  readonly url: string;
  readonly dataDir: string;
  stop(): void;
}

/** The binaries of PostgreSQL `major` (else the newest) under /usr/lib/postgresql (Debian's layout), or PATH's. */
export function findPostgresBin(major?: string): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    const pick = major === undefined ? majors[0] : majors.find((m) => m === major);
    if (pick) return join(root, pick, 'bin');
    if (major !== undefined) return undefined;
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return path ? path.replace(/\/initdb$/, '') : undefined;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * initdb + pg_ctl start in a temp dir, trust auth on 127.0.0.1, durability off (tests only).
 * initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
 */
export async function startEphemeralCluster(bin: string): Promise<EphemeralCluster> {
  const root = process.getuid?.() === 0;
  const base = mkdtempSync(join(tmpdir(), 'mosaic-pg-'));
  const dataDir = join(base, 'data');
  const asOwner = (cmd: string, args: string[]) => {
    const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    execFileSync(file, argv as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  if (root) {
    const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(base, Number(ids), Number(gid));
  }
  asOwner('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
  // One role authenticates by password (the rest trust): the wrong-password test needs it.
  const hba = join(dataDir, 'pg_hba.conf');
  writeFileSync(hba, `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
  const port = await freePort();
  const opts = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  asOwner('pg_ctl', ['-D', dataDir, '-o', opts, '-l', join(base, 'server.log'), '-w', '-t', '60', 'start']);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    stop() {
      try {
        asOwner('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
