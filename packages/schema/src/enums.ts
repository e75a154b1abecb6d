import { pgEnum } from 'drizzle-orm/pg-core';

export const teamRole = pgEnum('team_role', ['owner', 'admin', 'member', 'viewer']);
export const projectStatus = pgEnum('project_status', ['active', 'paused', 'archived']);
export const missionStatus = pgEnum('mission_status', ['planned', 'running', 'blocked', 'done', 'cancelled']);
export const taskStatus = pgEnum('task_status', ['todo', 'in_progress', 'review', 'done', 'wont_do']);
export const ticketStatus = pgEnum('ticket_status', ['open', 'triaged', 'in_progress', 'resolved', 'closed']);
export const messageRole = pgEnum('message_role', ['system', 'user', 'assistant', 'tool']);
export const logLevel = pgEnum('log_level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

export const enums = { teamRole, projectStatus, missionStatus, taskStatus, ticketStatus, messageRole, logLevel };
