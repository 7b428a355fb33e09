// Parking and resuming fibers on the hub, and the main fiber's own waits. Greenlets park by
// switching to the main fiber and are resumed from loop callbacks (resume(), resumeThrow()).
//
// Where a blocking call may run:
// - in a greenlet (any fiber but the main one): it parks that fiber and the hub runs the rest;
// - on the main fiber at the top level of a CommonJS script (the main thread's, or a worker's),
//   before the loop has started: it drives the loop itself (uv_run once, then Node's tick queue)
//   until it is satisfied, and throws LoopExit when the loop has nothing left that could ever
//   satisfy it;
// - anywhere else on the main fiber (a loop callback, a promise reaction, ESM top level): it throws
//   BlockingOnHubError. libuv is not reentrant, so uv_run is never entered from a loop callback.
//
// Telling the top level apart from a loop callback (see topLevel()): Node runs the main CommonJS
// module with execution async id 1 (a worker's script with 2), and every loop callback (timers,
// immediates, I/O, ticks) runs under an async id of its own; microtasks run under 0 (or their
// promise's id with hooks on). On top of that, loopState.driving is set while our own loop drive
// runs, and loopState.loopStarted once a hub turn ran from Node's own loop.
//
// A raw Fiber switched to from the top level that then parks hands the main fiber kParked (the
// hub's switch). The top level is not the hub: like greenlet's main greenlet it waits, driving the
// loop, for the next switch back to the main fiber that is not the hub's (the fiber returning,
// throwing, or switching to main with a value), which the hub's resume() sees and hands over.
import { executionAsyncId } from 'node:async_hooks';
import { isMainThread } from 'node:worker_threads';
import { snapshot, restore, type DetachedStack } from './async-context';
import { binding } from './binding';
import { BlockingOnHubError, LoopExit } from './errors';
import { Fiber, isTransferFailure, kParked, setParkedHandler } from './fiber';
import { hasPendingCallbacks, loopState, callSoon } from './callbacks';
import { settings } from './report';
import { monitorBackOnHub, monitorState, monitorSwitchIn, monitorSwitchOut } from './monitor';

const mainFiber = Fiber.main;

// Node runs the top level of the thread's main script under this execution async id.
const kTopLevelAsyncId = isMainThread ? 1 : 2;

/** What the main fiber can wait for: Waiter, or the rendezvous of a top-level raw switch. */
export interface MainWait {
  ready(): boolean;
  throw(error: unknown): void;
}

/** Where each fiber last parked, when hub.trackParkedStacks is on. */
export const parkedSites = new WeakMap<Fiber, { stack?: string }>();

// True while the hub's resume() is switched away from the main fiber: kParked is then for it.
let hubResuming = false;
/** The wait the main fiber is driving the loop for, if any. */
let mainWait: MainWait | undefined;
/** The top-level raw switch waiting for a fiber to come back, if any. */
let mainSwitch: SwitchBack | undefined;
// The error a Timeout raised for the main fiber while it was not blocked; raised at its next blocking call.
let mainPendingError: { error: unknown } | undefined;

/**
 * @internal Parks the current fiber (not the main one) until the hub switches back to it; returns
 * what the hub switched in, or raises what it threw in.
 */
export function park(current: Fiber): unknown {
  if (settings.trackParkedStacks) {
    const site: { stack?: string } = {};
    Error.captureStackTrace(site, park);
    parkedSites.set(current, site);
  }
  if (monitorState.on) monitorSwitchOut(current);
  return mainFiber.switch(kParked);
}

/**
 * @internal From the hub: resumes a parked fiber with `value`, until it parks again or ends.
 * Returns kParked when it parked; anything else came back to the main fiber by a plain switch,
 * return or throw, and goes to a top-level switch waiting for it, if there is one.
 */
export function resume(fiber: Fiber, value?: unknown): unknown {
  return hubSwitch(fiber, false, value);
}

/** @internal From the hub: raises `error` in a parked fiber at its suspension point. */
export function resumeThrow(fiber: Fiber, error: unknown): unknown {
  return hubSwitch(fiber, true, error);
}

function hubSwitch(fiber: Fiber, throwIn: boolean, value: unknown): unknown {
  const outer = hubResuming;
  hubResuming = true;
  if (monitorState.on) monitorSwitchIn(fiber);
  let result: unknown;
  try {
    result = throwIn ? fiber.throw(value) : fiber.switch(value);
  } catch (error) {
    // A switch that could not happen (no OS thread) is the caller's error, not a switch back.
    if (mainSwitch === undefined || isTransferFailure(error)) throw error;
    mainSwitch.deliver(true, error);
    return kParked;
  } finally {
    hubResuming = outer;
    if (monitorState.on) monitorBackOnHub(fiber);
  }
  if (result !== kParked && mainSwitch !== undefined) mainSwitch.deliver(false, result);
  return result;
}

/** The rendezvous of a top-level Fiber.switch() whose fiber parked. */
class SwitchBack implements MainWait {
  done = false;
  failed = false;
  value: unknown = undefined;

  ready(): boolean {
    return this.done;
  }

  deliver(failed: boolean, value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failed = failed;
    this.value = value;
  }

  throw(error: unknown): void {
    this.deliver(true, error);
  }
}

// What Fiber.switch()/throw() on the main fiber return when the fiber they ran parked on the hub.
setParkedHandler((target: Fiber): unknown => {
  if (hubResuming) return kParked; // the hub's own resume(): it expects this
  if (Fiber.current !== mainFiber) return undefined;
  if (!topLevel()) {
    // The hub (a loop callback, a promise reaction, ESM top level): as in greenlet, the hub's switch
    // returns as soon as the fiber switches to it; the hub resumes the fiber when it is woken.
    return undefined;
  }
  const rendezvous = new SwitchBack();
  mainSwitch = rendezvous;
  try {
    driveFor(rendezvous, target);
  } finally {
    mainSwitch = undefined;
  }
  if (rendezvous.failed) throw rendezvous.value;
  return rendezvous.value;
});

/**
 * @internal Raises `error` in `fiber` at its current or next blocking point. Called on the hub
 * (timers): a parked greenlet gets it at once; the main fiber gets it when its drive of the loop
 * checks, or at its next blocking call.
 */
export function interrupt(fiber: Fiber, error: unknown): void {
  if (fiber === mainFiber) {
    if (mainWait !== undefined) mainWait.throw(error);
    else mainPendingError = { error };
    return;
  }
  if (fiber.dead || !fiber.started || fiber === Fiber.current) return;
  if (Fiber.current !== mainFiber) {
    callSoon(() => interrupt(fiber, error), undefined);
    return;
  }
  resumeThrow(fiber, error);
}

/** @internal Raises, once, an error a Timeout left for the main fiber while it was not blocked. */
export function takeMainPendingError(): void {
  if (mainPendingError !== undefined) {
    const { error } = mainPendingError;
    mainPendingError = undefined;
    throw error;
  }
}

const tickCallback: () => void =
  typeof (process as unknown as { _tickCallback?: () => void })._tickCallback === 'function'
    ? (process as unknown as { _tickCallback: () => void })._tickCallback.bind(process)
    : () => {};

/**
 * Whether the main fiber is at the top level of a CommonJS script (or code it calls
 * synchronously), before the loop started: the only place it may drive the loop itself.
 */
function topLevel(): boolean {
  return !loopState.driving && !loopState.loopStarted && executionAsyncId() === kTopLevelAsyncId;
}

function blockingOnHub(): BlockingOnHubError {
  if (loopState.driving) {
    return new BlockingOnHubError(
      'cannot block here: this code runs in a callback fired while the top level of the script was blocked ' +
        '(a timer, I/O callback, nextTick or promise reaction on the hub), which must never block. ' +
        'Run it in a greenlet with spawn(fn), or wrap the program in main(fn)',
    );
  }
  if (!loopState.loopStarted && executionAsyncId() === 0) {
    return new BlockingOnHubError(
      'cannot block here: this code runs on the main fiber outside the top level of a CommonJS script (an ES module\'s ' +
        'top level, or a promise reaction), where greenfiber cannot drive the event loop. ' +
        'Wrap the program in `await main(() => { … })`, run it with the greenfiber CLI, or spawn(fn) a greenlet',
    );
  }
  return new BlockingOnHubError();
}

/**
 * @internal Drives the loop from the top level until `wait` is ready: the main fiber's
 * Waiter.get(). `fiber`: the raw fiber a top-level switch waits for, named in LoopExit.
 */
export function driveFor(wait: MainWait, fiber?: Fiber): void {
  if (!topLevel()) throw blockingOnHub();
  loopState.driving = true;
  const outer = mainWait;
  mainWait = wait;
  const stack = snapshot();
  try {
    for (;;) {
      // Ticks and microtasks first: a resolved promise or a queued nextTick may satisfy the wait.
      drainTicks(stack);
      if (wait.ready()) return;
      if (!binding.loopAlive() && !hasPendingCallbacks()) {
        throw new LoopExit(
          (fiber === undefined ? 'this operation would block forever' : `fiber ${JSON.stringify(fiber.name)} blocked and can never come back`) +
            ': the event loop has nothing left that could wake the top level of this script ' +
            '(no timers, I/O, greenlets able to run or pending callbacks)',
        );
      }
      binding.runLoopOnce();
      // A loop callback that threw went through Node's uncaught-exception path, and a listener
      // handled it: Node then empties the async id stack, the top level's entry included.
      restore(stack);
    }
  } finally {
    mainWait = outer;
    loopState.driving = false;
  }
}

/**
 * Runs Node's tick queue and microtasks for the top level's drive. A callback that throws takes
 * Node's uncaught-exception path, as it would from Node's own loop: an 'uncaughtException'
 * listener handles it and the drive goes on, or Node prints it and exits 1. It never comes out
 * of the blocking call. `stack`: the top level's async id stack, put back after the throw (the
 * tick's own level was never popped, and Node's handler empties the stack).
 */
function drainTicks(stack: DetachedStack): void {
  for (;;) {
    try {
      tickCallback();
      return;
    } catch (error) {
      binding.triggerUncaught(error); // returns only when a listener handled it
      restore(stack);
    }
  }
}

/** @internal Whether the current code may block (a greenlet, or the CommonJS top level). */
export function canBlock(): boolean {
  return Fiber.current !== mainFiber || topLevel();
}

/** @internal Throws BlockingOnHubError unless the current code may block. */
export function assertCanBlock(): void {
  if (!canBlock()) throw blockingOnHub();
}
