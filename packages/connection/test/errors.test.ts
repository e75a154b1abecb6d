import { describe, expect, it } from 'vitest';
import { createTestDatabase, tempStorePath, testServers } from '@mosaic/test-harness';
import { ConnectionError, isMosaicError, MosaicError, openDatabase } from '../src/index.js';
import type { Database } from '../src/index.js';

const engines = [
  ...testServers().map((server) => ({ name: `PostgreSQL ${server.major}`, open: async () => openDatabase(await createTestDatabase('mosaic_test', server)) })),
  { name: 'PGlite', open: () => openDatabase(tempStorePath(), { create: true }) },
];

/** An error a package above would raise around a connection's error. */
class WrappingError extends MosaicError<'WRAPPED'> {
  override readonly name = 'WrappingError';
}

describe.each(engines)('one error shape: $name', ({ open }) => {
  it('a refused statement keeps every field the server sent, and so does an error that wraps it', async () => {
    const db: Database = await open();
    try {
      await db.exec(`create table parent (id int primary key);
        create table child (id int primary key, parent_id int constraint child_parent_fk references parent (id), note text not null)`);
      const fk = await db.query('insert into child values (1, 42, $1)', ['x']).catch((e: unknown) => e);
      expect(fk).toBeInstanceOf(ConnectionError);
      expect(fk).toMatchObject({ code: 'QUERY_FAILED', sqlState: '23503', schema: 'public', table: 'child', constraint: 'child_parent_fk' });
      expect((fk as ConnectionError).detail).toMatch(/parent_id\)=\(42\)/);

      const notNull = await db.query('insert into child values (2, null, null)').catch((e: unknown) => e);
      expect(notNull).toMatchObject({ code: 'QUERY_FAILED', sqlState: '23502', table: 'child', column: 'note' });

      const wrapped = new WrappingError('WRAPPED', 'child: the foreign key does not hold', { cause: fk });
      expect(isMosaicError(wrapped)).toBe(true);
      expect(wrapped).toMatchObject({ code: 'WRAPPED', name: 'WrappingError', sqlState: '23503', table: 'child', constraint: 'child_parent_fk' });
      expect(wrapped.cause).toBe(fk);
    } finally {
      await db.close();
    }
  });

  it('a COPY the server refuses keeps the fields too', async () => {
    const db: Database = await open();
    try {
      await db.exec('create table t (id int constraint t_pk primary key)');
      const error = await db.copyFrom('copy t (id) from stdin', ['1\n', '1\n']).catch((e: unknown) => e);
      expect(error).toMatchObject({ sqlState: '23505', table: 't', constraint: 't_pk' });
    } finally {
      await db.close();
    }
  });
});

describe('MosaicError', () => {
  it('an explicit field wins over the wrapped one; plain causes give none', () => {
    const inner = new ConnectionError('QUERY_FAILED', 'x', { sqlState: '23505', table: 'a' });
    const outer = new WrappingError('WRAPPED', 'y', { cause: inner, table: 'b' });
    expect(outer).toMatchObject({ sqlState: '23505', table: 'b' });
    const plain = new WrappingError('WRAPPED', 'z', { cause: Object.assign(new Error('e'), { sqlState: '1' }) });
    expect(plain.sqlState).toBeUndefined();
    expect(isMosaicError(new Error('no'))).toBe(false);
  });
});
