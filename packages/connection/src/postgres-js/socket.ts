import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** What postgres.js hands its `socket` option: the hosts, ports and socket path it resolved. */
interface SocketOptions {
  readonly host: readonly string[];
  readonly port: readonly number[];
  readonly path?: string | false;
}

/**
 * The sockets of every postgres.js client, with Nagle's algorithm off. postgres.js leaves it on:
 * the small message that follows a COPY FROM (the chunk's journal entry and COMMIT) then waited
 * for the server's delayed ACK of the COPY data, 40 ms on Linux, once per chunk (measured: COMMIT
 * after a COPY of 200 rows, 43-45 ms; with TCP_NODELAY, 0.3-0.9 ms). PostgreSQL sets TCP_NODELAY
 * on its side; libpq does on its.
 *
 * postgres.js asks for a socket already connected when it is given this option, so the connect
 * timeout is kept here (its own timer starts only once the socket is there), and the hosts of a
 * multi-host URL are tried in turn, as postgres.js does with its own sockets.
 */
export function noDelaySockets(connectTimeoutSeconds: number): (options: SocketOptions) => Promise<Socket> {
  let next = 0;
  return (options) => new Promise((resolve, reject) => {
    const i = next % Math.max(options.host.length, 1);
    next = i + 1;
    const host = options.host[i] ?? 'localhost';
    const socket = options.path ? connect({ path: options.path }) : connect({ host, port: options.port[i] ?? options.port[0] ?? 5432 });
    socket.setNoDelay(true);
    // postgres.js names the host for TLS (SNI, verify-full) from these, as on its own sockets.
    Object.assign(socket, { host, port: options.port[i] });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer from ${host} within ${connectTimeoutSeconds} s`), { code: 'CONNECT_TIMEOUT' }));
    }, connectTimeoutSeconds * 1000);
    const failed = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', failed);
      resolve(socket);
    });
  });
}
