import type { ForeignKeyEdge, TableGraph } from './graph.js';

/**
 * FK edges a copy cannot satisfy by table order alone, and how it satisfies them:
 * - self-references (tasks.parent_id, messages.parent_id): a child row may sort before
 *   its parent in key order, so the column is loaded NULL and set in a second pass;
 * - the users <-> teams cycle: users.active_team_id is nullable, so users are copied with
 *   it NULL before teams, and it is restored once teams exist.
 * Neither needs superuser rights (no session_replication_role, no DEFERRABLE changes).
 */
export interface DeferredEdge {
  readonly table: string;
  readonly column: string;
  readonly references: string;
  readonly reason: 'self-reference' | 'cycle';
}

export const DEFERRED_EDGES: readonly DeferredEdge[] = [
  { table: 'users', column: 'active_team_id', references: 'teams', reason: 'cycle' },
  { table: 'tasks', column: 'parent_id', references: 'tasks', reason: 'self-reference' },
  { table: 'messages', column: 'parent_id', references: 'messages', reason: 'self-reference' },
];

/** Every table of every tier, parents before children (DEFERRED_EDGES aside). */
export const MIGRATION_ORDER = [
  'users',
  'teams',
  'team_members',
  'accounts',
  'sessions',
  'verifications',
  'admin_tokens',
  'projects',
  'agents',
  'missions',
  'tasks',
  'conversations',
  'messages',
  'preferences',
  'insights',
  'agent_logs',
  'provider_credentials',
  'tickets',
  'events',
  'skills',
  'routing_rules',
  'appreciations',
] as const;

export type TableName = (typeof MIGRATION_ORDER)[number];

function isDeferred(edge: ForeignKeyEdge): boolean {
  return DEFERRED_EDGES.some((d) => d.table === edge.table && d.references === edge.references && edge.columns.length === 1 && edge.columns[0] === d.column);
}

/**
 * A topological order of the graph with DEFERRED_EDGES removed; ties broken by the
 * position in `preferred` (so the result is stable and reads like the operator guide).
 * Throws if a cycle remains, naming its tables: a new FK needs a decision here.
 */
export function deriveMigrationOrder(graph: TableGraph, preferred: readonly string[] = MIGRATION_ORDER): string[] {
  const rank = (t: string) => {
    const i = preferred.indexOf(t);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const parents = new Map<string, Set<string>>();
  for (const name of graph.tables.keys()) parents.set(name, new Set());
  for (const edge of graph.edges) {
    if (!isDeferred(edge) && edge.table !== edge.references) parents.get(edge.table)!.add(edge.references);
    if (edge.table === edge.references && !isDeferred(edge)) {
      throw new Error(`Self-reference ${edge.table}.${edge.columns.join(',')} is not in DEFERRED_EDGES`);
    }
  }
  const order: string[] = [];
  const done = new Set<string>();
  while (done.size < parents.size) {
    const ready = [...parents].filter(([t, ps]) => !done.has(t) && [...ps].every((p) => done.has(p))).map(([t]) => t);
    if (ready.length === 0) {
      const stuck = [...parents.keys()].filter((t) => !done.has(t));
      throw new Error(`FK cycle among ${stuck.join(', ')}: break it with a nullable column listed in DEFERRED_EDGES`);
    }
    ready.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const next = ready[0]!;
    order.push(next);
    done.add(next);
  }
  return order;
}

/** Edges whose parent does not come before the child in `order`, deferred ones excluded. */
export function orderViolations(graph: TableGraph, order: readonly string[]): ForeignKeyEdge[] {
  const position = new Map(order.map((t, i) => [t, i]));
  return graph.edges.filter((e) => !isDeferred(e) && (position.get(e.references) ?? Infinity) >= (position.get(e.table) ?? -1));
}

export { isDeferred as isDeferredEdge };
