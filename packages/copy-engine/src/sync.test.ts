import { describe, expect, it } from 'vitest';
import { tableGraph } from '@mosaic/schema';
import { bucketDepth, touchedByCascades } from './sync.js';

describe('touchedByCascades', () => {
  const edges = [
    { table: 'b', references: 'a', onDelete: 'cascade' },
    { table: 'c', references: 'b', onDelete: 'cascade' },
    { table: 'd', references: 'b', onDelete: 'set null' },
    // Below a SET NULL nothing is deleted: e stays untouched.
    { table: 'e', references: 'd', onDelete: 'cascade' },
    { table: 'f', references: 'a', onDelete: 'no action' },
    // A cycle must end.
    { table: 'a', references: 'c', onDelete: 'cascade' },
  ];

  it('follows CASCADE keys all the way down, SET NULL keys one step, NO ACTION not at all', () => {
    expect([...touchedByCascades(new Set(['a']), edges)].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect([...touchedByCascades(new Set(['d']), edges)].sort()).toEqual(['d', 'e']);
    expect([...touchedByCascades(new Set(['f']), edges)]).toEqual(['f']);
    expect(touchedByCascades(new Set(), edges).size).toBe(0);
  });

  it('on the real schema: a user deleted on purpose reaches messages (through conversations) and clears appreciations', () => {
    const touched = touchedByCascades(new Set(['users']), tableGraph('federated').edges);
    expect(touched.has('conversations')).toBe(true);
    expect(touched.has('messages')).toBe(true);
    expect(touched.has('appreciations')).toBe(true);
    // A message deleted on purpose: replies (parent_id SET NULL) and appreciations (SET NULL) change; conversations do not.
    const fromMessages = touchedByCascades(new Set(['messages']), tableGraph('federated').edges);
    expect(fromMessages.has('appreciations')).toBe(true);
    expect(fromMessages.has('conversations')).toBe(false);
  });
});

describe('bucketDepth', () => {
  it('keeps buckets near 8 rows, 1 to 4 hex digits', () => {
    expect(bucketDepth(0)).toBe(1);
    expect(bucketDepth(100)).toBe(1);
    expect(bucketDepth(2_000)).toBe(2);
    expect(bucketDepth(30_000)).toBe(3);
    expect(bucketDepth(500_000)).toBe(4);
    expect(bucketDepth(50_000_000)).toBe(4);
  });
});
