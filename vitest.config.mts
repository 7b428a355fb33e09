import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fibers are OS threads taking the isolate lock in turns: each test file runs in a child
    // process of its own (never in a worker_thread), and files never share one.
    pool: 'forks',
    isolate: true,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The machine has 2 cores; fixtures spawn their own processes.
    maxWorkers: 2,
  },
});
