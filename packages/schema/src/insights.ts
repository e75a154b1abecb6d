import { index, pgTable, real, text, uuid, vector } from 'drizzle-orm/pg-core';
import { tstz } from './columns.js';
import { projects, users } from './tables.js';

// `insights` is the one table whose shape depends on the tier: the federated tier adds
// `embedding vector(1536)` (pgvector). Both variants share every other column.
const insightColumns = {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
  content: text('content').notNull(),
  source: text('source'),
  relevance: real('relevance'),
  createdAt: tstz('created_at').notNull().defaultNow(),
};

export const EMBEDDING_DIMENSIONS = 1536;

export const insights = pgTable('insights', insightColumns);

export const insightsWithEmbedding = pgTable('insights', {
  ...insightColumns,
  embedding: vector('embedding', { dimensions: EMBEDDING_DIMENSIONS }),
}, (t) => [index('insights_embedding_hnsw').using('hnsw', t.embedding.op('vector_cosine_ops'))]);
