import { describe, expect, it } from 'vitest';
import { classify } from './classify.js';
import type { CatalogFacts } from './classify.js';

const postgres: CatalogFacts = {
  engine: 'postgres', serverVersion: '15.20', vectorAvailable: false, vectorInstalledVersion: null, vectorCreatable: false,
  schemaVersion: null, schemaTier: null, instanceId: null, hasEmbeddingColumn: false,
};

describe('classify', () => {
  it('a PGlite directory is local, whatever it holds', () => {
    expect(classify({ ...postgres, engine: 'pglite', vectorAvailable: true, vectorInstalledVersion: '0.8.0' }, 1).tier).toBe('local');
  });

  it('PostgreSQL with a schema: the embedding column decides', () => {
    expect(classify({ ...postgres, schemaVersion: 1, hasEmbeddingColumn: true, vectorInstalledVersion: '0.8.0' }, 1)).toMatchObject({ tier: 'federated', schemaState: 'current' });
    // pgvector installed but the schema was made standalone: the data is standalone.
    expect(classify({ ...postgres, schemaVersion: 1, vectorInstalledVersion: '0.8.0' }, 1)).toMatchObject({ tier: 'standalone' });
  });

  it('PostgreSQL without a schema: the installed extension decides', () => {
    expect(classify({ ...postgres, vectorAvailable: true, vectorInstalledVersion: '0.8.0' }, 1)).toMatchObject({ tier: 'federated', schemaState: 'absent' });
    expect(classify({ ...postgres, vectorAvailable: true }, 1)).toMatchObject({ tier: 'standalone', reason: expect.stringContaining('available but not installed') });
    expect(classify(postgres, 1)).toMatchObject({ tier: 'standalone', reason: expect.stringContaining('no pgvector') });
  });

  it('compares the schema version with the tool', () => {
    expect(classify({ ...postgres, schemaVersion: 2 }, 1).schemaState).toBe('newer');
    expect(classify({ ...postgres, schemaVersion: 1 }, 2).schemaState).toBe('older');
  });
});
