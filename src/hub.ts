// The hub: Node's own event loop on the main thread, seen as gevent's hub greenlet. This file holds
// the public Hub object (its settings and runCallback) and getCurrent(); the machinery lives in
// callbacks.ts (the callback FIFO), park.ts (parking, resuming, the top level), waiter.ts,
// sleep.ts and report.ts (error reports), re-exported here for the modules that use them.
import { Fiber } from './fiber';
import { queueCallback, type HubCallback } from './callbacks';
import { settings } from './report';
import { monitorState, setMaxBlockingTime } from './monitor';
import { checkFunction, checkOptionalFunction, invalidArgument } from './validate';

export { callSoon, hasPendingCallbacks, type HubCallback } from './callbacks';
export { handleError, kDescribe } from './report';
export { assertCanBlock, canBlock, interrupt, parkedSites, park, resume, resumeThrow } from './park';
export { Waiter } from './waiter';
export { idle, sleep } from './sleep';
export { MAX_TIMER_MS } from './long-timer';

/**
 * The hub of this thread: Node's event loop on the main fiber. Greenlets are scheduled from it;
 * it never blocks.
 */
export class Hub {
  /**
   * Replaces the default reporter of uncaught greenlet errors (and of errors thrown by hub
   * callbacks, with `greenlet` undefined). Called in the dying greenlet (or on the hub); must not
   * throw (what it throws is written to stderr). GreenletExit is never reported.
   */
  get onError(): ((greenlet: Fiber | undefined, error: unknown) => void) | undefined {
    return settings.onError;
  }

  /** @throws TypeError unless a function or undefined (null restores the default too). */
  set onError(reporter: ((greenlet: Fiber | undefined, error: unknown) => void) | undefined) {
    if (reporter === null) reporter = undefined;
    checkOptionalFunction(reporter, 'hub.onError');
    settings.onError = reporter;
  }

  /**
   * When true, an uncaught greenlet error (or a hub callback error), once reported, ends the
   * process the way an unhandled promise rejection does (it is raised as one, so Node's
   * `--unhandled-rejections` mode and `unhandledRejection` handlers apply). Off by default: the
   * error is stored on the greenlet and the process goes on, as in gevent.
   */
  get strict(): boolean {
    return settings.strict;
  }

  set strict(on: boolean) {
    if (typeof on !== 'boolean') throw invalidArgument('hub.strict', 'a boolean', on);
    settings.strict = on;
  }

  /**
   * Record where each greenlet is parked, for runInfo(). Costs one stack capture per park (a few
   * µs each: that doubles the price of a switch), so it is off by default.
   */
  get trackParkedStacks(): boolean {
    return settings.trackParkedStacks;
  }

  set trackParkedStacks(on: boolean) {
    if (typeof on !== 'boolean') throw invalidArgument('hub.trackParkedStacks', 'a boolean', on);
    settings.trackParkedStacks = on;
  }

  /**
   * Record where each greenlet is spawned from (the top 5 frames), for error reports and
   * runInfo(). Costs ~2 µs a spawn; on by default.
   */
  get captureSpawnSites(): boolean {
    return settings.captureSpawnSites;
  }

  set captureSpawnSites(on: boolean) {
    if (typeof on !== 'boolean') throw invalidArgument('hub.captureSpawnSites', 'a boolean', on);
    settings.captureSpawnSites = on;
  }

  /**
   * Runs `fn(...args)` on the hub soon, after the callbacks already queued (FIFO). Callable from
   * anywhere: greenlets, loop callbacks, async code, the top level. `fn` runs on the main fiber in
   * a loop callback, so it must not block; what it throws is reported like a greenlet error.
   */
  runCallback(fn: (...args: any[]) => void, ...args: unknown[]): HubCallback {
    checkFunction(fn, 'fn');
    return queueCallback(fn, args);
  }

  /**
   * Milliseconds a greenlet may run without yielding before it is reported on stderr with its
   * stack (gevent's monitor thread); 0 (the default) turns the watchdog off. A watchdog thread
   * reports the greenlet while it still runs; the report with the stack where it finally yielded
   * follows when it does.
   */
  get maxBlockingTime(): number {
    return monitorState.maxBlockingTime;
  }

  set maxBlockingTime(ms: number) {
    if (typeof ms !== 'number') throw invalidArgument('maxBlockingTime', 'a number of milliseconds >= 0 (0 for off)', ms);
    if (!(ms >= 0)) throw invalidArgument('maxBlockingTime', 'a number of milliseconds >= 0 (0 for off)', ms, true);
    if (ms === Infinity) ms = 0; // never reported: the same as off
    setMaxBlockingTime(ms);
  }
}

/** The hub of this thread. */
export const hub = new Hub();

/** The running fiber: a greenlet, a raw Fiber, or the main fiber (the hub) outside them. */
export function getCurrent(): Fiber {
  return Fiber.current;
}
