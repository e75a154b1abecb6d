export type { TestServer } from './provided.js';
export { testServer, testServers } from './servers.js';
export type { ServerRef } from './servers.js';
export { createTestDatabase, tempDir, tempStorePath } from './databases.js';
export { findPostgresBin, freePort, startEphemeralCluster } from './ephemeral-cluster.js';
export type { EphemeralCluster } from './ephemeral-cluster.js';
export { tableDigests } from './digests.js';
export type { QueryRunner } from './digests.js';
export { PASSWORD_ROLE, PASSWORD_ROLE_SECRET } from './ephemeral-cluster.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { LinkOptions, TcpProxy } from './tcp-proxy.js';
export {
  expectNoLeak, fragments, leakedFragments, normaliseOutput, PASSWORD_NON_ASCII, PASSWORD_SPECIALS, passwordArbitrary, placeholderFor, PRINTABLE_ASCII, typedPassword, withPassword,
} from './leaks.js';
