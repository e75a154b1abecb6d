export { compare } from './compare.js';
export type { CompareOptions, VerifyReport } from './compare.js';
export { compareTable } from './compare-table.js';
export type { Differences, TableVerdict } from './compare-table.js';
export type { RuleVerdict } from './rules.js';
export type { TableShape } from '@mosaic/copy-engine';
export { VerifyError } from './errors.js';
export type { VerifyErrorCode } from './errors.js';
