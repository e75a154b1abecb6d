import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PGlite as PGlite17 } from 'pglite-pg17';
import { tempStorePath } from '@mosaic/test-harness';
import { openDatabase } from '../src/index.js';

describe('PGlite stores of older PostgreSQL majors', () => {
  it('opens a PostgreSQL 17 store written by PGlite 0.4 with the matching PGlite, and reads it', async () => {
    const dir = tempStorePath('pg17');
    const old = await PGlite17.create(dir);
    await old.exec("create table notes (id int primary key, body text); insert into notes values (1, 'written by PGlite 0.4')");
    await old.close();
    expect(readFileSync(join(dir, 'PG_VERSION'), 'utf8').trim()).toBe('17');

    const db = await openDatabase(dir);
    try {
      expect(await db.query("select current_setting('server_version_num')::int / 10000 as major")).toEqual([{ major: 17 }]);
      expect(await db.query('select body from notes')).toEqual([{ body: 'written by PGlite 0.4' }]);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('creates new stores as PostgreSQL 18', async () => {
    const dir = tempStorePath('pg18');
    const db = await openDatabase(dir, { create: true });
    await db.close();
    expect(readFileSync(join(dir, 'PG_VERSION'), 'utf8').trim()).toBe('18');
  });
});
