import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@mosaic/test-harness/config';

export default defineConfig(vitestConfig());
