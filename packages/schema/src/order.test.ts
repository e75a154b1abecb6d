import { describe, expect, it } from 'vitest';
import { tableGraph, TIERS } from './graph.js';
import { DEFERRED_EDGES, deriveMigrationOrder, MIGRATION_ORDER, orderViolations } from './order.js';
import { copiedTables, SKIPPED_TABLES } from './skipped.js';

describe.each(TIERS)('table graph of the %s tier', (tier) => {
  const graph = tableGraph(tier);

  it('has the 22 tables of schema v1, each with a primary key', () => {
    expect([...graph.tables.keys()].sort()).toEqual([...MIGRATION_ORDER].sort());
    for (const table of graph.tables.values()) expect(table.primaryKey.length, table.name).toBeGreaterThan(0);
  });

  it('MIGRATION_ORDER is the order derived from the FK graph', () => {
    expect(deriveMigrationOrder(graph)).toEqual([...MIGRATION_ORDER]);
  });

  it('puts every parent before its children, except the deferred edges', () => {
    expect(orderViolations(graph, MIGRATION_ORDER)).toEqual([]);
    const position = new Map<string, number>(MIGRATION_ORDER.map((t, i) => [t, i]));
    const backwards = graph.edges.filter((e) => position.get(e.references)! >= position.get(e.table)!);
    expect(backwards.map((e) => `${e.table}.${e.columns.join(',')}`).sort()).toEqual(
      DEFERRED_EDGES.map((d) => `${d.table}.${d.column}`).sort(),
    );
  });

  it('every deferred edge exists and is nullable, so it can be loaded NULL and restored', () => {
    for (const d of DEFERRED_EDGES) {
      const edge = graph.edges.find((e) => e.table === d.table && e.columns.join() === d.column);
      expect(edge, `${d.table}.${d.column}`).toBeDefined();
      expect(edge!.references).toBe(d.references);
      expect(edge!.nullable).toBe(true);
    }
  });

  it('marks the generated and identity columns', () => {
    const search = graph.tables.get('messages')!.columns.find((c) => c.name === 'search');
    expect(search?.generated).toBe(true);
    const id = graph.tables.get('agent_logs')!.columns.find((c) => c.name === 'id');
    expect(id?.identity).toBe(true);
    expect(graph.tables.get('team_members')!.primaryKey).toEqual(['team_id', 'user_id']);
  });
});

describe('tier variants', () => {
  it('only federated has insights.embedding vector(1536)', () => {
    const column = (tier: (typeof TIERS)[number]) => tableGraph(tier).tables.get('insights')!.columns.find((c) => c.name === 'embedding');
    expect(column('local')).toBeUndefined();
    expect(column('standalone')).toBeUndefined();
    expect(column('federated')?.sqlType).toBe('vector(1536)');
  });
});

describe('deriveMigrationOrder', () => {
  it('names the tables of a cycle nobody declared', () => {
    const graph = tableGraph('local');
    const edges = [...graph.edges, { name: 'x', table: 'users', columns: ['email'], references: 'projects', referencedColumns: ['id'], nullable: false, onDelete: 'no action' as const }];
    expect(() => deriveMigrationOrder({ ...graph, edges })).toThrow(/FK cycle among .*users/);
  });
});

describe('SKIPPED_TABLES', () => {
  it('skips exactly sessions, verifications and admin_tokens, each with a reason', () => {
    expect(Object.keys(SKIPPED_TABLES).sort()).toEqual(['admin_tokens', 'sessions', 'verifications']);
    for (const reason of Object.values(SKIPPED_TABLES)) expect(reason.length).toBeGreaterThan(20);
    expect(copiedTables(MIGRATION_ORDER)).toContain('accounts');
    expect(copiedTables(MIGRATION_ORDER)).toContain('provider_credentials');
    expect(copiedTables(MIGRATION_ORDER)).toHaveLength(19);
  });
});
