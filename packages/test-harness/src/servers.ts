import { inject } from 'vitest';
import type { TestServer } from './provided.js';
import './provided.js';

/**
 * The servers of this run, kysely style: MOSAIC_TEST_SERVERS (e.g. `pg17,pg15`, the default, or
 * `pg15`) selects them; suites that hold for every server run once per server with
 * `describe.each(testServers())`.
 */
export function testServers(): TestServer[] {
  return inject('pgServers');
}

/**
 * A server by name or by the role it plays: `federated` is PostgreSQL 17 (the federated tier's
 * server) and `standalone` PostgreSQL 15, each when selected; otherwise the first selected server,
 * so a run restricted to one server still runs every test.
 */
export type ServerRef = string | 'federated' | 'standalone' | TestServer;

export function testServer(ref: ServerRef = 'default'): TestServer {
  const servers = testServers();
  if (typeof ref !== 'string') return ref;
  const wanted = ref === 'federated' ? 'pg17' : ref === 'standalone' ? 'pg15' : ref;
  const found = servers.find((s) => s.name === wanted);
  if (found) return found;
  if (ref === 'federated' || ref === 'standalone' || ref === 'default') return servers[0]!;
  throw new Error(`No test server ${ref}: this run has ${servers.map((s) => s.name).join(', ')} (MOSAIC_TEST_SERVERS).`);
}
