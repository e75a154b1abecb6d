import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createTestDatabase, tempStorePath } from '../src/index.js';

// Run by src/databases.test.ts in a vitest of its own: what it creates must be gone once it ends.
it('creates a database and a temp store, and names them', async () => {
  const url = await createTestDatabase('mosaic_cleanup');
  const store = tempStorePath();
  expect(existsSync(store)).toBe(false);
  console.log(`[cleanup-fixture] database ${new URL(url).pathname.slice(1)} dir ${store.replace(/\/data$/, '')}`);
});
