export { mosaicStoragePlugin } from './plugin.js';
export type { MosaicStorageOptions } from './plugin.js';
export { hashToken } from './auth.js';
export { GatewayJobError, GatewayStartupError, GatewayWriteError } from './errors.js';
export type { GatewayJobCode, GatewayStartupCode, GatewayWriteCode } from './errors.js';
export { httpStatusFor } from './http-status.js';
export type { AdminErrorCode } from './http-status.js';
export type { Cutover, Job, JobEvent, JobState, JobStep } from './jobs.js';
export type { MosaicStore, StoreWriter } from './store.js';
