// Helpers shared by the hub/greenlet test files: running a test body in a greenlet (vitest calls
// tests from loop callbacks, where blocking is not allowed), and checking nothing is left alive.
import { afterEach, beforeEach, expect } from 'vitest';
import * as fs from 'node:fs';
import { fiberStats, hub, sleep, spawn, type Fiber } from '../dist/entries/index.js';

/** Runs `fn` in a greenlet and resolves with its result (rejects with its error). */
export function inGreenlet<T>(fn: () => T): Promise<T> {
  const greenlet = spawn(fn);
  greenlet.name = 'test';
  // Its error goes to the returned promise (and so to vitest), not also to stderr.
  (greenlet as unknown as { reportErrors: boolean }).reportErrors = false;
  return greenlet.promise();
}

/** Lets the hub run until no fiber is started, then asserts that none is. */
export async function expectNoFiberLeft(): Promise<void> {
  for (let i = 0; i < 50 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started, 'a fiber or greenlet was left alive by the test').toBe(0);
}

/**
 * For each test of the calling file: greenlet error reports whose error `expected(error)` accepts
 * are collected in the returned array (emptied before each test) instead of printed, so a green
 * run is quiet; any other report still goes to stderr.
 */
export function captureReports(expected: (error: unknown) => boolean): Array<[Fiber | undefined, unknown]> {
  const reports: Array<[Fiber | undefined, unknown]> = [];
  beforeEach(() => {
    reports.length = 0;
    hub.onError = (greenlet, error) => {
      if (expected(error)) reports.push([greenlet, error]);
      else process.stderr.write(`unexpected greenlet error report (${greenlet?.name ?? 'hub callback'}): ${(error as Error)?.stack ?? String(error)}\n`);
    };
  });
  afterEach(() => {
    hub.onError = undefined;
  });
  return reports;
}

/** Runs `fn` with process.stderr.write captured; returns what was written. */
export async function captureStderr(fn: () => unknown): Promise<string> {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

// Blocking helpers for the interruption tables (http, net, dns): call them inside a greenlet.

/** This process's open file descriptors. */
export const fds = (): number => fs.readdirSync('/proc/self/fd').length;

/** Polls `fn` every 10 ms (parking the greenlet) for up to 2 s; its last answer. */
export function eventually(fn: () => boolean): boolean {
  for (let i = 0; i < 200; i++) {
    if (fn()) return true;
    sleep(10);
  }
  return fn();
}

/** The fd count once it has stopped moving (sockets closed by earlier tests finish closing). */
export function settledFds(): number {
  let last = fds();
  for (let same = 0, i = 0; same < 5 && i < 200; i++) {
    sleep(10);
    const now = fds();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/** What `fn` throws; fails the test if it returns. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function caught(fn: () => unknown): any {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
