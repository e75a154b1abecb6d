// Module boundaries: apps sit above packages; packages never import an app, and only the
// connection package talks to a database driver (STYLE habit 1).
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/drizzle/**', '.nx/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          banTransitiveDependencies: true,
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:package'] },
            { sourceTag: 'type:package', onlyDependOnLibsWithTags: ['type:package'] },
            { sourceTag: 'type:test', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['postgres', '@electric-sql/pglite', '@electric-sql/pglite/*', '@electric-sql/pglite-pgvector', 'pglite-pg17', 'pglite-pg17/*'], message: 'Only packages/connection opens databases; use @mosaic/connection.' },
            { group: ['../../packages/*', '../../apps/*', '**/src/index.js'], message: 'Import other projects by package name.' },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/connection/src/**/*.ts', '**/*.test.ts', '**/test/**/*.ts', 'tools/**/*.ts', 'packages/test-harness/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Tests (and only tests) may use the test harness.
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/vitest.config.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:package', 'type:test'] },
            { sourceTag: 'type:package', onlyDependOnLibsWithTags: ['type:package', 'type:test'] },
            { sourceTag: 'type:test', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
    },
  },
];
