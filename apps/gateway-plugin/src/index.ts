export { mosaicStoragePlugin } from './plugin.js';
export type { MosaicStorageOptions } from './plugin.js';
export { hashToken } from './auth.js';
export { GatewayJobError, GatewayStartupError } from './errors.js';
export type { GatewayJobCode, GatewayStartupCode } from './errors.js';
export { httpStatusFor } from './http-status.js';
export type { AdminErrorCode } from './http-status.js';
export type { Job, JobEvent, JobState } from './jobs.js';
