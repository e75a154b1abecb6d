import { defineConfig } from 'vitest/config';
import { vitestConfig } from '../src/vitest-config.js';

// Only the fixtures, and no JSON report (test-results/ belongs to the package's own run).
const base = vitestConfig();
export default defineConfig({ test: { ...base.test, include: ['test-fixtures/*.test.ts'], reporters: ['default'], outputFile: {} } });
