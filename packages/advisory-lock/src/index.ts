export { acquireAdvisoryLock, FENCE_SQLSTATE, isFenceFailure } from './lock.js';
export type { AcquireOptions, HeldLock, WaitReport } from './lock.js';
export { describeHolder, readHolder } from './holder.js';
export type { LockHolder } from './holder.js';
export { holderQuery, lockKeyParts, MOSAIC_LOCK_KEY } from './key.js';
export { AdvisoryLockError } from './errors.js';
export type { AdvisoryLockErrorCode } from './errors.js';
