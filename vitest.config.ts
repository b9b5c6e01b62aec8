import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Integration tests share one two-host lab: run files one after another.
    fileParallelism: false,
    // A bound, not a measure: under CI's four streams on 2 cores a real-host case takes up to ~2× its quiet time.
    testTimeout: 240_000,
    hookTimeout: 300_000,
  },
});
