import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/**
 * A network link between two hosts, simulated on loopback (the kernel here has no netem): every
 * byte waits for the link to be free (bandwidth) and then half the round trip (latency), in order.
 */
export interface LinkOptions {
  /** Round-trip time added, in milliseconds (half each way). */
  readonly roundTripMs: number;
  /** Bandwidth cap of each direction, in Mbit/s. */
  readonly mbitPerSecond: number;
}

export interface TcpProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string;
  /** Stops delivering bytes (both directions, every connection) until resume(): a peer that stops sending. */
  pause(): void;
  resume(): void;
  /** Bytes delivered each way, and how many times a connection's traffic turned from client->server to server->client (request/response round trips). */
  readonly stats: { readonly toServer: number; readonly toClient: number; readonly turns: number };
  close(): Promise<void>;
}

/** Bytes queued on one direction before its sender is paused (backpressure). */
const HIGH_WATER = 1024 * 1024;

class Direction {
  #queue: Array<{ at: number; chunk: Buffer }> = [];
  #freeAt = 0;
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly link: LinkOptions | undefined,
    private readonly paused: () => boolean,
    private readonly delivered: (n: number) => void,
  ) {}

  push(chunk: Buffer): void {
    const now = performance.now();
    let at = now;
    if (this.link) {
      const start = Math.max(now, this.#freeAt);
      this.#freeAt = start + (chunk.length * 8) / (this.link.mbitPerSecond * 1000);
      at = this.#freeAt + this.link.roundTripMs / 2;
    }
    this.#queue.push({ at, chunk });
    this.#queued += chunk.length;
    if (this.#queued > HIGH_WATER) this.from.pause();
    this.pump();
  }

  /** Delivers what is due, in order; one timer for the next. */
  pump(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.paused()) return;
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now + 0.5) {
      const { chunk } = this.#queue.shift()!;
      this.#queued -= chunk.length;
      this.delivered(chunk.length);
      this.to.write(chunk);
    }
    if (this.#queued <= HIGH_WATER / 2) this.from.resume();
    if (this.#queue.length > 0) this.#timer = setTimeout(() => this.pump(), Math.max(0, this.#queue[0]!.at - now));
  }

  /** Delivers everything still queued at once (its sender has closed: nothing more will follow). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const { chunk } of this.#queue.splice(0)) {
      this.delivered(chunk.length);
      if (this.to.writable) this.to.write(chunk);
    }
    this.#queued = 0;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#queue = [];
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of `upstream`, optionally through a simulated link (latency
 * and a bandwidth cap): a target "on another host" for the tests and the benchmark.
 */
export async function startTcpProxy(upstream: { host: string; port: number }, link?: LinkOptions): Promise<TcpProxy> {
  let paused = false;
  const stats = { toServer: 0, toClient: 0, turns: 0 };
  const directions = new Set<Direction>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstreamSocket = connect(upstream.port, upstream.host);
    sockets.add(client).add(upstreamSocket);
    let last: 'up' | 'down' | undefined;
    const up = new Direction(client, upstreamSocket, link, () => paused, (n) => {
      stats.toServer += n;
      last = 'up';
    });
    const down = new Direction(upstreamSocket, client, link, () => paused, (n) => {
      stats.toClient += n;
      if (last === 'up') stats.turns += 1;
      last = 'down';
    });
    directions.add(up).add(down);
    client.setNoDelay(true);
    upstreamSocket.setNoDelay(true);
    client.on('data', (chunk: Buffer) => up.push(chunk));
    upstreamSocket.on('data', (chunk: Buffer) => down.push(chunk));
    const forget = () => {
      directions.delete(up);
      directions.delete(down);
      sockets.delete(client);
      sockets.delete(upstreamSocket);
    };
    // One side closed: what it had already sent still reaches the other side (a server's last
    // ErrorResponse, a FATAL), which is then ended gracefully, not cut.
    const closed = (from: 'client' | 'upstream') => () => {
      if (from === 'upstream') {
        down.flush();
        up.stop();
        client.end();
      } else {
        up.flush();
        down.stop();
        upstreamSocket.end();
      }
      forget();
    };
    const failed = () => {
      up.stop();
      down.stop();
      client.destroy();
      upstreamSocket.destroy();
      forget();
    };
    client.on('close', closed('client')).on('error', failed);
    upstreamSocket.on('close', closed('upstream')).on('error', failed);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    url(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const d of directions) d.pump();
    },
    stats,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
