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
    // Type tests are checked by tsc in the same run: `npm test` fails on a type error. They import the
    // package by name, so they check the built dist/entries types through "exports". tsc checks every
    // file of tsconfig.typetest.json, including test/types-cjs.test-d.cts, which vitest cannot parse.
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.{ts,mts}'],
      tsconfig: './tsconfig.typetest.json',
    },
  },
});
