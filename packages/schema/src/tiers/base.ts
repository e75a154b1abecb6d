// drizzle-kit entry for the tiers without pgvector (local, standalone): every table and enum.
export * from '../enums.js';
export * from '../tables.js';
export { insights } from '../insights.js';
