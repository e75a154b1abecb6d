import { defineConfig } from 'vitest/config';
import { vitestConfig } from './src/vitest-config.js';

export default defineConfig(vitestConfig());
