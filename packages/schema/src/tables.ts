import { sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import {
  bigint, boolean, integer, jsonb, numeric, pgTable, primaryKey, real, text, unique, uuid,
} from 'drizzle-orm/pg-core';
import { bytea, tstz, tsvector } from './columns.js';
import {
  logLevel, messageRole, missionStatus, projectStatus, taskStatus, teamRole, ticketStatus,
} from './enums.js';

// Tables shared by every tier. `insights` differs per tier and lives in insights.ts.
// Keys: users, accounts, sessions and verifications use text ids (auth library style); the
// rest use uuids, except agent_logs (identity bigint) and team_members (composite).

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  emailVerified: boolean('email_verified').notNull().default(false),
  image: text('image'),
  // Nullable half of the users <-> teams cycle: set after the team exists.
  activeTeamId: uuid('active_team_id').references((): AnyPgColumn => teams.id, { onDelete: 'set null' }),
  createdAt: tstz('created_at').notNull().defaultNow(),
  updatedAt: tstz('updated_at').notNull().defaultNow(),
});

export const teams = pgTable('teams', {
  id: uuid('id').primaryKey().defaultRandom(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  ownerId: text('owner_id').notNull().references(() => users.id),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const teamMembers = pgTable('team_members', {
  teamId: uuid('team_id').notNull().references(() => teams.id, { onDelete: 'cascade' }),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  role: teamRole('role').notNull().default('member'),
  joinedAt: tstz('joined_at').notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.teamId, t.userId] })]);

export const accounts = pgTable('accounts', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  providerId: text('provider_id').notNull(),
  accountId: text('account_id').notNull(),
  accessToken: text('access_token'),
  refreshToken: text('refresh_token'),
  idToken: text('id_token'),
  scope: text('scope'),
  // 'infinity' for tokens that never expire.
  expiresAt: tstz('expires_at'),
  createdAt: tstz('created_at').notNull().defaultNow(),
}, (t) => [unique('accounts_provider_account_unique').on(t.providerId, t.accountId)]);

export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  token: text('token').notNull().unique(),
  ipAddress: text('ip_address'),
  userAgent: text('user_agent'),
  expiresAt: tstz('expires_at').notNull(),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const verifications = pgTable('verifications', {
  id: text('id').primaryKey(),
  identifier: text('identifier').notNull(),
  value: text('value').notNull(),
  expiresAt: tstz('expires_at').notNull(),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const adminTokens = pgTable('admin_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  label: text('label').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: tstz('expires_at'),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const projects = pgTable('projects', {
  id: uuid('id').primaryKey().defaultRandom(),
  teamId: uuid('team_id').references(() => teams.id, { onDelete: 'set null' }),
  ownerId: text('owner_id').notNull().references(() => users.id),
  name: text('name').notNull(),
  description: text('description'),
  status: projectStatus('status').notNull().default('active'),
  metadata: jsonb('metadata').notNull().default(sql`'{}'::jsonb`),
  createdAt: tstz('created_at').notNull().defaultNow(),
  archivedAt: tstz('archived_at'),
});

export const agents = pgTable('agents', {
  id: uuid('id').primaryKey().defaultRandom(),
  projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
  ownerId: text('owner_id').notNull().references(() => users.id),
  name: text('name').notNull(),
  model: text('model').notNull(),
  systemPrompt: text('system_prompt'),
  tools: text('tools').array().notNull().default(sql`'{}'::text[]`),
  config: jsonb('config').notNull().default(sql`'{}'::jsonb`),
  temperature: real('temperature'),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const missions = pgTable('missions', {
  id: uuid('id').primaryKey().defaultRandom(),
  projectId: uuid('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  createdBy: text('created_by').notNull().references(() => users.id),
  title: text('title').notNull(),
  goal: text('goal'),
  status: missionStatus('status').notNull().default('planned'),
  startedAt: tstz('started_at'),
  // 'infinity' for missions with no deadline.
  deadlineAt: tstz('deadline_at'),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const tasks = pgTable('tasks', {
  id: uuid('id').primaryKey().defaultRandom(),
  missionId: uuid('mission_id').notNull().references(() => missions.id, { onDelete: 'cascade' }),
  projectId: uuid('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
  parentId: uuid('parent_id').references((): AnyPgColumn => tasks.id, { onDelete: 'cascade' }),
  title: text('title').notNull(),
  status: taskStatus('status').notNull().default('todo'),
  priority: integer('priority').notNull().default(0),
  estimateHours: numeric('estimate_hours', { precision: 6, scale: 2 }),
  dueAt: tstz('due_at'),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const conversations = pgTable('conversations', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
  projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
  title: text('title').notNull(),
  pinned: boolean('pinned').notNull().default(false),
  createdAt: tstz('created_at').notNull().defaultNow(),
  updatedAt: tstz('updated_at').notNull().defaultNow(),
});

export const messages = pgTable('messages', {
  id: uuid('id').primaryKey().defaultRandom(),
  conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
  parentId: uuid('parent_id').references((): AnyPgColumn => messages.id, { onDelete: 'set null' }),
  role: messageRole('role').notNull(),
  content: text('content').notNull(),
  toolCalls: jsonb('tool_calls'),
  tokensIn: integer('tokens_in'),
  tokensOut: integer('tokens_out'),
  costUsd: numeric('cost_usd', { precision: 14, scale: 8 }),
  // Derived, never copied: the target recomputes it.
  search: tsvector('search').generatedAlwaysAs(sql`to_tsvector('simple'::regconfig, content)`),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const preferences = pgTable('preferences', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  key: text('key').notNull(),
  value: jsonb('value').notNull(),
  updatedAt: tstz('updated_at').notNull().defaultNow(),
}, (t) => [unique('preferences_user_key_unique').on(t.userId, t.key)]);

export const agentLogs = pgTable('agent_logs', {
  id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
  agentId: uuid('agent_id').notNull().references(() => agents.id, { onDelete: 'cascade' }),
  level: logLevel('level').notNull(),
  message: text('message').notNull(),
  data: jsonb('data'),
  durationMs: integer('duration_ms'),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const providerCredentials = pgTable('provider_credentials', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  provider: text('provider').notNull(),
  encryptedKey: bytea('encrypted_key').notNull(),
  iv: bytea('iv').notNull(),
  createdAt: tstz('created_at').notNull().defaultNow(),
  rotatedAt: tstz('rotated_at'),
}, (t) => [unique('provider_credentials_user_provider_unique').on(t.userId, t.provider)]);

export const tickets = pgTable('tickets', {
  id: uuid('id').primaryKey().defaultRandom(),
  projectId: uuid('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  reporterId: text('reporter_id').notNull().references(() => users.id),
  title: text('title').notNull(),
  body: text('body'),
  labels: text('labels').array(),
  status: ticketStatus('status').notNull().default('open'),
  createdAt: tstz('created_at').notNull().defaultNow(),
  closedAt: tstz('closed_at'),
});

export const events = pgTable('events', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').references(() => users.id, { onDelete: 'set null' }),
  projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
  type: text('type').notNull(),
  // Values above 2^53 occur: never a JS number.
  seq: bigint('seq', { mode: 'bigint' }).notNull(),
  payload: jsonb('payload').notNull(),
  occurredAt: tstz('occurred_at').notNull(),
});

export const skills = pgTable('skills', {
  id: uuid('id').primaryKey().defaultRandom(),
  ownerId: text('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  description: text('description'),
  definition: jsonb('definition').notNull(),
  version: integer('version').notNull().default(1),
  createdAt: tstz('created_at').notNull().defaultNow(),
}, (t) => [unique('skills_owner_name_unique').on(t.ownerId, t.name)]);

export const routingRules = pgTable('routing_rules', {
  id: uuid('id').primaryKey().defaultRandom(),
  teamId: uuid('team_id').references(() => teams.id, { onDelete: 'cascade' }),
  agentId: uuid('agent_id').notNull().references(() => agents.id, { onDelete: 'cascade' }),
  priority: integer('priority').notNull().default(0),
  conditions: jsonb('conditions').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: tstz('created_at').notNull().defaultNow(),
});

export const appreciations = pgTable('appreciations', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
  messageId: uuid('message_id').references(() => messages.id, { onDelete: 'set null' }),
  note: text('note').notNull(),
  createdAt: tstz('created_at').notNull().defaultNow(),
});
