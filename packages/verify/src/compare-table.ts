import type { Queryable } from '@mosaic/connection';
import { bucketSums, rowsUnder } from '@mosaic/copy-engine';
import type { Bucket, TableShape } from '@mosaic/copy-engine';

export interface Differences {
  /** Keys in the source, not in the target. */
  readonly missing: readonly string[];
  /** Keys in the target, not in the source. */
  readonly extra: readonly string[];
  /** Keys in both whose rows differ. */
  readonly changed: readonly string[];
}

export interface TableVerdict {
  readonly table: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly checksum: 'match' | 'differ';
  readonly status: 'identical' | 'different';
  /** The first few differing keys (as text), found by re-hashing narrower buckets. */
  readonly differences: Differences;
}

function differing(a: Map<string, Bucket>, b: Map<string, Bucket>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k)?.rows !== b.get(k)?.rows || a.get(k)?.sum !== b.get(k)?.sum).sort();
}

const total = (m: Map<string, Bucket>) => [...m.values()].reduce((n, b) => n + b.rows, 0);

/**
 * Compares one table: 256 bucket checksums per side; where they differ, 256 sub-buckets under
 * each differing bucket (up to `maxBuckets`); then the few rows under the differing
 * sub-buckets are listed by key and row md5 on both sides. Memory stays flat.
 */
export async function compareTable(source: Queryable, target: Queryable, shape: TableShape, maxKeys = 10, maxBuckets = 16): Promise<TableVerdict> {
  const [s1, t1] = await Promise.all([bucketSums(source, shape, [''], 2), bucketSums(target, shape, [''], 2)]);
  const base = { table: shape.table, sourceRows: total(s1), targetRows: total(t1) };
  const level1 = differing(s1, t1);
  if (level1.length === 0) return { ...base, checksum: 'match', status: 'identical', differences: { missing: [], extra: [], changed: [] } };

  const narrow = level1.slice(0, maxBuckets);
  const [s2, t2] = await Promise.all([bucketSums(source, shape, narrow, 4), bucketSums(target, shape, narrow, 4)]);
  const level2 = differing(s2, t2).slice(0, maxBuckets);
  const [sr, tr] = await Promise.all([rowsUnder(source, shape, level2), rowsUnder(target, shape, level2)]);
  const missing: string[] = [];
  const extra: string[] = [];
  const changed: string[] = [];
  for (const [key, md5] of sr) {
    if (!tr.has(key)) missing.push(key);
    else if (tr.get(key) !== md5) changed.push(key);
  }
  for (const key of tr.keys()) if (!sr.has(key)) extra.push(key);
  const cut = (xs: string[]) => xs.sort().slice(0, maxKeys);
  return { ...base, checksum: 'differ', status: 'different', differences: { missing: cut(missing), extra: cut(extra), changed: cut(changed) } };
}
