export { mosaicStoragePlugin } from './plugin.js';
export type { MosaicStorageOptions } from './plugin.js';
export { hashToken } from './auth.js';
export { GatewayStartupError } from './errors.js';
export type { GatewayStartupCode } from './errors.js';
export type { Job, JobEvent, JobState } from './jobs.js';
