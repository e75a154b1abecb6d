export { dataset } from './dataset.js';
export type { Dataset, DeferredUpdate, SeedOptions, TableRows } from './dataset.js';
export { seed } from './load.js';
export type { SeedProgress, SeedResult, SeedTableResult } from './load.js';
export { SeedError } from './errors.js';
export type { SeedErrorCode } from './errors.js';
export { arrayLiteral, byteaHex, copyField, copyLine, timestamp } from './copy-text.js';
export { Rng } from './random.js';
