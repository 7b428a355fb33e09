// Helpers shared by the hub/greenlet test files: running a test body in a greenlet (vitest calls
// tests from loop callbacks, where blocking is not allowed), and checking nothing is left alive.
import { expect } from 'vitest';
import { fiberStats, spawn } from '../dist/entries/index.js';

/** Runs `fn` in a greenlet and resolves with its result (rejects with its error). */
export function inGreenlet<T>(fn: () => T): Promise<T> {
  const greenlet = spawn(fn);
  greenlet.name = 'test';
  return greenlet.promise();
}

/** Lets the hub run until no fiber is started, then asserts that none is. */
export async function expectNoFiberLeft(): Promise<void> {
  for (let i = 0; i < 50 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started, 'a fiber or greenlet was left alive by the test').toBe(0);
}
