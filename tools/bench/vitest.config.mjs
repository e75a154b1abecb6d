import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@mosaic/test-harness/config';

const config = vitestConfig({ testTimeout: 300_000 });
export default defineConfig({ ...config, test: { ...config.test, include: ['test/**/*.test.mjs'] } });
