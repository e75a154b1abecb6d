import { describe, expect, it } from 'vitest';
import { openDatabase } from '@mosaic/connection';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { binaryCopyTuples } from './stream.js';

/** Binary COPY of `rows` rows holding NULLs, empty strings, multi-byte text and a bytea, from a real server. */
async function exported(url: string, rows: number): Promise<Uint8Array> {
  const db = await openDatabase(url, { create: true });
  try {
    const parts: Uint8Array[] = [];
    const sql = `copy (select g, case when g % 3 = 0 then null else repeat('é', g % 7) end, '\\x00ff'::bytea, ''::text from generate_series(1, ${rows}) g) to stdout (format binary)`;
    for await (const part of db.copyTo(sql)) parts.push(new Uint8Array(part));
    return Buffer.concat(parts);
  } finally {
    await db.close();
  }
}

/** The same bytes cut into pieces of `size` (a row, even an int, can straddle two pieces). */
const cut = (bytes: Uint8Array, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

describe('binaryCopyTuples', () => {
  it.each([
    ['PostgreSQL', () => createTestDatabase()],
    ['PGlite', async () => tempStorePath()],
  ])('counts the rows of a binary COPY from %s, however the bytes are cut', async (_name, location) => {
    const url = await location();
    for (const rows of [0, 1, 1234]) {
      const bytes = await exported(url, rows);
      for (const size of [1, 2, 3, 7, 256 * 1024]) expect(binaryCopyTuples(cut(bytes, size)), `${rows} rows in pieces of ${size}`).toBe(rows);
    }
  });

  it('refuses a stream cut off in the middle of a row', async () => {
    const bytes = await exported(tempStorePath(), 10);
    expect(() => binaryCopyTuples([bytes.subarray(0, bytes.length - 5)])).toThrow(/ends in the middle of a row/);
  });
});
