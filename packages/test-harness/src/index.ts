export type {} from './provided.js';
export { createTestDatabase, tempDir, tempStorePath } from './databases.js';
export { findPostgresBin, startEphemeralCluster } from './ephemeral-cluster.js';
export type { EphemeralCluster } from './ephemeral-cluster.js';
export { tableDigests } from './digests.js';
export type { QueryRunner } from './digests.js';
export { PASSWORD_ROLE, PASSWORD_ROLE_SECRET } from './ephemeral-cluster.js';
export {
  expectNoLeak, fragments, leakedFragments, normaliseOutput, PASSWORD_NON_ASCII, PASSWORD_SPECIALS, placeholderFor, PRINTABLE_ASCII, typedPassword, withPassword,
} from './leaks.js';
