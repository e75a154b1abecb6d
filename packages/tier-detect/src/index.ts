export { detect, detectDatabase } from './detect.js';
export type { DetectOptions, Detection } from './detect.js';
export { classify } from './classify.js';
export type { CatalogFacts, Classification, SchemaState } from './classify.js';
export { readCatalogFacts, readRowCounts } from './catalog.js';
export { checkValkey } from './valkey.js';
export type { ValkeyHealth } from './valkey.js';
