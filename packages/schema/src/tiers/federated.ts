// drizzle-kit entry for the federated tier: as base, with insights.embedding vector(1536).
export * from '../enums.js';
export * from '../tables.js';
export { insightsWithEmbedding as insights } from '../insights.js';
