-- pgvector must exist before insights.embedding. IF NOT EXISTS: an ordinary role can re-apply
-- this once a superuser has run CREATE EXTENSION vector.
CREATE EXTENSION IF NOT EXISTS vector;
