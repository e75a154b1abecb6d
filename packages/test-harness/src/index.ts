export { createTestDatabase, tempDir, tempStorePath } from './databases.js';
export { findPostgresBin, startEphemeralCluster } from './ephemeral-cluster.js';
export type { EphemeralCluster } from './ephemeral-cluster.js';
export { tableDigests } from './digests.js';
export type { QueryRunner } from './digests.js';
