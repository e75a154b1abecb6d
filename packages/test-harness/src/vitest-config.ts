import { fileURLToPath } from 'node:url';

/**
 * The vitest settings every package shares: the global setup that finds PostgreSQL, real
 * timeouts for real databases, and files run one at a time (2 cores; PGlite is CPU-bound).
 */
export function vitestConfig(overrides: { testTimeout?: number } = {}) {
  return {
    test: {
      globalSetup: [fileURLToPath(new URL('./global-setup.js', import.meta.url))],
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      fileParallelism: false,
      // json feeds the closing 'N passed, N failed' line of npm test (tools/run-tests.mjs).
      reporters: ['default', 'json'],
      outputFile: { json: 'test-results/vitest.json' },
    },
  };
}
