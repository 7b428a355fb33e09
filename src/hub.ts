// The hub: Node's own event loop on the main thread, seen as gevent's hub greenlet. Greenlets park
// by switching to the main fiber and are resumed from loop callbacks; runCallback() is the hub's
// FIFO of soon-to-run callbacks; Waiter is the one-shot rendezvous every blocking call uses.
//
// Where a blocking call may run:
// - in a greenlet (any fiber but the main one): it parks that fiber and the hub runs the rest;
// - on the main fiber at the top level of a CommonJS script, before Node's loop has started: it
//   drives the loop itself (uv_run once, then Node's tick queue) until it is satisfied, and throws
//   LoopExit when the loop has nothing left that could ever satisfy it;
// - anywhere else on the main fiber (a loop callback, a promise reaction, ESM top level): it throws
//   BlockingOnHubError. libuv is not reentrant, so uv_run is never entered from a loop callback.
//
// Telling the top level apart from a loop callback (see topLevel()): Node runs the main CommonJS
// module with execution async id 1, and every loop callback (timers, immediates, I/O, ticks) runs
// under an async id of its own; microtasks run under 0 (or their promise's id with hooks on). On
// top of that, `driving` is set while our own loop drive runs, and `loopStarted` once a hub turn
// ran from Node's own loop: after that, the main fiber only ever runs inside loop callbacks.
import { executionAsyncId } from 'node:async_hooks';
import { binding } from './binding';
import { BlockingOnHubError, FiberError, FiberExit, LoopExit } from './errors';
import { Fiber } from './fiber';
import { stackOf } from './stack';
import { setLongTimeout } from './long-timer';
import { checkDelay, checkFunction, checkOptionalFunction, invalidArgument } from './validate';
import { monitorBackOnHub, monitorState, monitorSwitchIn, monitorSwitchOut, setMaxBlockingTime } from './monitor';

const mainFiber = Fiber.main;

/** A callback queued with `hub.runCallback()`. */
export interface HubCallback {
  /** Stops the callback from running, if it has not run yet. Idempotent. */
  cancel(): void;
  /** True until the callback runs or is cancelled. */
  readonly pending: boolean;
}

class QueuedCallback implements HubCallback {
  pending = true;
  constructor(
    public fn: ((...args: any[]) => void) | undefined,
    public args: unknown[] | undefined,
    public arg: unknown,
  ) {}

  cancel(): void {
    this.pending = false;
    this.fn = undefined;
    this.args = undefined;
    this.arg = undefined;
  }
}

// The hub's FIFO. A turn runs callbacks until the queue is empty, including those queued while it
// runs (a wake-up handed from one greenlet to the next costs no loop iteration), but for at most
// kTurnBudgetMs: then the rest waits for the next turn, after the loop has polled for I/O once more,
// so a greenlet looping on sleep(0) starves no one. gevent's callback loop works the same way.
let queue: QueuedCallback[] = [];
// True while a turn runs or is scheduled with setImmediate: enqueue() then schedules nothing.
let turnScheduled = false;
const kTurnBudgetMs = 5;
// True while our own top-level drive of the loop runs (including the ticks it drains).
let driving = false;
// True once a hub turn ran from Node's own loop: the top level is over for good.
let loopStarted = false;
// Waiters of idle(), woken by the first turn that leaves nothing queued.
let idlers: Waiter<void>[] = [];
// The error a Timeout raised for the main fiber while it was not blocked; raised at its next blocking call.
let mainPendingError: { error: unknown } | undefined;

function runBatch(batch: QueuedCallback[]): void {
  for (let i = 0; i < batch.length; i++) {
    const callback = batch[i];
    if (!callback.pending) continue;
    const { fn, args, arg } = callback;
    callback.pending = false;
    callback.fn = undefined;
    callback.args = undefined;
    callback.arg = undefined;
    try {
      if (args === undefined) fn!(arg);
      else fn!(...args);
    } catch (error) {
      handleError(undefined, error);
    }
  }
}

function runTurn(): void {
  if (!driving) loopStarted = true;
  const deadline = performance.now() + kTurnBudgetMs;
  do {
    const batch = queue;
    queue = [];
    runBatch(batch);
  } while (queue.length > 0 && performance.now() < deadline);
  if (queue.length > 0) {
    setImmediate(runTurn); // over budget: the rest after the next I/O poll
  } else {
    turnScheduled = false;
  }
  // idle(): woken on a turn that left nothing queued for the next one.
  if (idlers.length > 0 && queue.length === 0) {
    const waiters = idlers;
    idlers = [];
    for (const waiter of waiters) waiter.switch(undefined);
  }
}

function scheduleTurn(): void {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(runTurn);
  }
}

function enqueue(callback: QueuedCallback): QueuedCallback {
  queue.push(callback);
  scheduleTurn();
  return callback;
}

/** @internal Like hub.runCallback(fn, arg) without the rest-arguments array. */
export function callSoon<A>(fn: (arg: A) => void, arg: A): HubCallback {
  return enqueue(new QueuedCallback(fn, undefined, arg));
}

/** @internal Whether the hub has callbacks waiting for their turn. */
export function hasPendingCallbacks(): boolean {
  return queue.length > 0;
}

/** Extra lines for an error report: greenlets supply their name and spawn site. */
export const kDescribe = Symbol.for('greenfiber.describe');
interface Describable {
  [kDescribe](): string;
}

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
    return this.#onError;
  }

  /** @throws TypeError unless a function or undefined (null restores the default too). */
  set onError(reporter: ((greenlet: Fiber | undefined, error: unknown) => void) | undefined) {
    if (reporter === null) reporter = undefined;
    checkOptionalFunction(reporter, 'hub.onError');
    this.#onError = reporter;
  }

  #onError: ((greenlet: Fiber | undefined, error: unknown) => void) | undefined = undefined;

  /**
   * When true, an uncaught greenlet error (or a hub callback error), once reported, ends the
   * process the way an unhandled promise rejection does (it is raised as one, so Node's
   * `--unhandled-rejections` mode and `unhandledRejection` handlers apply). Off by default: the
   * error is stored on the greenlet and the process goes on, as in gevent.
   */
  get strict(): boolean {
    return this.#strict;
  }

  set strict(on: boolean) {
    if (typeof on !== 'boolean') throw invalidArgument('hub.strict', 'a boolean', on);
    this.#strict = on;
  }

  #strict = false;

  /**
   * Record where each greenlet is parked, for runInfo(). Costs one stack capture per park (a few
   * µs each: that doubles the price of a switch), so it is off by default.
   */
  get trackParkedStacks(): boolean {
    return this.#trackParkedStacks;
  }

  set trackParkedStacks(on: boolean) {
    if (typeof on !== 'boolean') throw invalidArgument('hub.trackParkedStacks', 'a boolean', on);
    this.#trackParkedStacks = on;
  }

  #trackParkedStacks = false;

  /**
   * Record where each greenlet is spawned from (the top 5 frames), for error reports and
   * runInfo(). Costs ~2 µs a spawn; on by default.
   */
  get captureSpawnSites(): boolean {
    return this.#captureSpawnSites;
  }

  set captureSpawnSites(on: boolean) {
    if (typeof on !== 'boolean') throw invalidArgument('hub.captureSpawnSites', 'a boolean', on);
    this.#captureSpawnSites = on;
  }

  #captureSpawnSites = true;

  /**
   * Runs `fn(...args)` on the hub soon, after the callbacks already queued (FIFO). Callable from
   * anywhere: greenlets, loop callbacks, async code, the top level. `fn` runs on the main fiber in
   * a loop callback, so it must not block; what it throws is reported like a greenlet error.
   */
  runCallback(fn: (...args: any[]) => void, ...args: unknown[]): HubCallback {
    checkFunction(fn, 'fn');
    return enqueue(new QueuedCallback(fn, args, undefined));
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

/**
 * Reports an uncaught error of a greenlet (or, with `context` undefined, of a hub callback)
 * through hub.onError or to stderr, then applies hub.strict. Never throws.
 */
export function handleError(context: Fiber | undefined, error: unknown): void {
  if (error instanceof FiberExit) return;
  const reporter = hub.onError;
  try {
    if (reporter !== undefined) reporter(context, error);
    else process.stderr.write(formatReport(context, error));
  } catch (failure) {
    try {
      process.stderr.write(`greenfiber: hub.onError threw while reporting an error: ${stackOf(failure)}\nThe error it was reporting: ${stackOf(error)}\n`);
    } catch {
      // stderr is gone; nothing more to do
    }
  }
  if (hub.strict) {
    // Raised as an unhandled rejection: Node ends the process (or calls unhandledRejection handlers).
    void Promise.reject(error);
  }
}

function errorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error;
}

function formatReport(context: Fiber | undefined, error: unknown): string {
  let header: string;
  if (context === undefined) header = 'a hub callback failed';
  else if (typeof (context as unknown as Describable)[kDescribe] === 'function') header = (context as unknown as Describable)[kDescribe]();
  else header = `fiber ${JSON.stringify(context.name)}`;
  return `${stackOf(error)}\n${header.split('\n')[0]} failed with ${errorName(error)}${header.includes('\n') ? `\n${header.split('\n').slice(1).join('\n')}` : ''}\n\n`;
}

// ---- parking and resuming ----

/** Where each fiber last parked, when hub.trackParkedStacks is on. */
export const parkedSites = new WeakMap<Fiber, { stack?: string }>();

/**
 * @internal Parks the current fiber (not the main one) until the hub switches back to it; returns
 * what the hub switched in, or raises what it threw in.
 */
export function park(current: Fiber): unknown {
  if (hub.trackParkedStacks) {
    const site: { stack?: string } = {};
    Error.captureStackTrace(site, park);
    parkedSites.set(current, site);
  }
  if (monitorState.on) monitorSwitchOut(current);
  return mainFiber.switch();
}

/** @internal From the hub: resumes a parked fiber with `value`, until it parks again or ends. */
export function resume(fiber: Fiber, value?: unknown): unknown {
  if (!monitorState.on) return fiber.switch(value);
  monitorSwitchIn(fiber);
  try {
    return fiber.switch(value);
  } finally {
    monitorBackOnHub(fiber);
  }
}

/** @internal From the hub: raises `error` in a parked fiber at its suspension point. */
export function resumeThrow(fiber: Fiber, error: unknown): unknown {
  if (!monitorState.on) return fiber.throw(error);
  monitorSwitchIn(fiber);
  try {
    return fiber.throw(error);
  } finally {
    monitorBackOnHub(fiber);
  }
}

/**
 * @internal Raises `error` in `fiber` at its current or next blocking point. Called on the hub
 * (timers): a parked greenlet gets it at once; the main fiber gets it when its drive of the loop
 * checks, or at its next blocking call.
 */
export function interrupt(fiber: Fiber, error: unknown): void {
  if (fiber === mainFiber) {
    if (mainWaiter !== undefined) mainWaiter.throw(error);
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

// ---- the main fiber: top-level blocking ----

/** The waiter the main fiber is driving the loop for, if any. */
let mainWaiter: Waiter<any> | undefined;

const tickCallback: () => void =
  typeof (process as unknown as { _tickCallback?: () => void })._tickCallback === 'function'
    ? (process as unknown as { _tickCallback: () => void })._tickCallback.bind(process)
    : () => {};

/**
 * Whether the main fiber is at the top level of a CommonJS script (or code it calls
 * synchronously), before Node's loop started: the only place it may drive the loop itself.
 */
function topLevel(): boolean {
  return !driving && !loopStarted && executionAsyncId() === 1;
}

function blockingOnHub(): BlockingOnHubError {
  if (driving) {
    return new BlockingOnHubError(
      'cannot block here: this code runs in a callback fired while the top level of the script was blocked ' +
        '(a timer, I/O callback, nextTick or promise reaction on the hub), which must never block. ' +
        'Run it in a greenlet with spawn(fn), or wrap the program in main(fn)',
    );
  }
  return new BlockingOnHubError();
}

/** Drives the loop from the top level until `waiter` is ready; the main fiber's Waiter.get(). */
function driveFor(waiter: Waiter<any>): void {
  if (!topLevel()) throw blockingOnHub();
  driving = true;
  mainWaiter = waiter;
  try {
    for (;;) {
      // Ticks and microtasks first: a resolved promise or a queued nextTick may satisfy the waiter.
      tickCallback();
      if (waiter.ready()) return;
      if (!binding.loopAlive() && queue.length === 0) {
        throw new LoopExit(
          'this operation would block forever: the event loop has nothing left that could wake the top level of this script ' +
            '(no timers, I/O, greenlets able to run or pending callbacks)',
        );
      }
      binding.runLoopOnce();
    }
  } finally {
    mainWaiter = undefined;
    driving = false;
  }
}

const enum WaiterState {
  Empty = 0,
  Value = 1,
  Error = 2,
}

/**
 * A one-shot rendezvous between one waiting fiber and whoever delivers (gevent.hub.Waiter).
 * `get()` blocks until `switch(value)` or `throw(error)`; a delivery that comes before `get()` is
 * kept and returned at once. The first delivery wins; later ones are ignored.
 */
export class Waiter<T = unknown> {
  #state: WaiterState = WaiterState.Empty;
  #value: unknown = undefined;
  /** The fiber parked in get(), while it is. */
  #fiber: Fiber | undefined = undefined;
  #delivery: HubCallback | undefined = undefined;

  /**
   * Blocks the current greenlet until a value or error is delivered, and returns (or throws) it.
   * At the top level of a CommonJS script it drives the loop itself, and throws LoopExit if
   * nothing could ever deliver. Other errors raised at the suspension point (a kill, an expired
   * Timeout) propagate.
   * @throws BlockingOnHubError in a loop callback outside any greenlet.
   */
  get(): T {
    if (this.#state === WaiterState.Empty) {
      const current = Fiber.current;
      if (this.#fiber !== undefined) {
        throw new FiberError(`Waiter.get(): fiber ${JSON.stringify(this.#fiber.name)} is already waiting on this waiter; a waiter serves one fiber`);
      }
      if (current === mainFiber) {
        if (mainPendingError !== undefined) {
          const { error } = mainPendingError;
          mainPendingError = undefined;
          throw error;
        }
        driveFor(this);
      } else {
        this.#fiber = current;
        try {
          do {
            park(current);
            // A resume without a delivery (a stray switch()) parks again.
          } while (this.#state === WaiterState.Empty);
        } finally {
          this.#fiber = undefined;
          if (this.#delivery !== undefined) {
            this.#delivery.cancel();
            this.#delivery = undefined;
          }
        }
      }
    }
    if (this.#state === WaiterState.Error) throw this.#value;
    return this.#value as T;
  }

  /** Delivers `value`: the waiting fiber's get() returns it. From anywhere; never blocks. */
  switch(value: T): void {
    this.#deliver(WaiterState.Value, value);
  }

  /** Delivers `error`: the waiting fiber's get() throws it. From anywhere; never blocks. */
  throw(error: unknown): void {
    this.#deliver(WaiterState.Error, error);
  }

  /** Whether a value or error has been delivered. */
  ready(): boolean {
    return this.#state !== WaiterState.Empty;
  }

  /** Whether a fiber is parked in get(). */
  get waiting(): boolean {
    return this.#fiber !== undefined;
  }

  #deliver(state: WaiterState, value: unknown): void {
    if (this.#state !== WaiterState.Empty) return;
    this.#state = state;
    this.#value = value;
    const fiber = this.#fiber;
    if (fiber === undefined || fiber === mainFiber) return; // get() returns it at once / the drive sees it
    if (Fiber.current === mainFiber) resume(fiber);
    else this.#delivery = callSoon(wake, this);
  }

  /** @internal */
  static wake(waiter: Waiter<any>): void {
    waiter.#delivery = undefined;
    const fiber = waiter.#fiber;
    if (fiber !== undefined) resume(fiber);
  }
}

function wake(waiter: Waiter<any>): void {
  Waiter.wake(waiter);
}

/** @internal Whether the current code may block (a greenlet, or the CommonJS top level). */
export function canBlock(): boolean {
  return Fiber.current !== mainFiber || topLevel();
}

/** @internal Throws BlockingOnHubError unless the current code may block. */
export function assertCanBlock(): void {
  if (!canBlock()) throw blockingOnHub();
}

// ---- sleeping ----

function wakeWaiter(waiter: Waiter<void>): void {
  waiter.switch(undefined);
}

/**
 * Blocks the current greenlet for `ms` milliseconds. `sleep(0)` (the default) lets every other
 * greenlet that is ready to run go first, round robin, and comes back on the next hub turn.
 * Times follow the rule of src/validate.ts: negative is 0, Infinity sleeps until killed, any
 * length is honoured (timers are chained past Node's 2**31 - 1 ms).
 * @throws TypeError if `ms` is not a number, RangeError if it is NaN; BlockingOnHubError in a
 *   loop callback outside any greenlet.
 */
export function sleep(ms?: number): void {
  const delay = checkDelay(ms, 'ms');
  assertCanBlock();
  const waiter = new Waiter<void>();
  if (delay === 0) {
    const callback = callSoon(wakeWaiter, waiter);
    try {
      waiter.get();
    } finally {
      callback.cancel();
    }
    return;
  }
  // Infinity arms nothing: only a kill or a Timeout ends it.
  const timer = setLongTimeout(wakeWaiter, delay, waiter);
  try {
    waiter.get();
  } finally {
    timer.cancel();
  }
}

/** @internal Node's longest single timer (long-timer.ts chains past it). */
export { MAX_TIMER_MS } from './long-timer';

/**
 * Blocks the current greenlet until the hub is idle: a turn has run and left no other callback
 * or greenlet ready to run (gevent.idle). Blocks.
 */
export function idle(): void {
  assertCanBlock();
  const waiter = new Waiter<void>();
  idlers.push(waiter);
  scheduleTurn();
  try {
    waiter.get();
  } finally {
    const index = idlers.indexOf(waiter);
    if (index >= 0) idlers.splice(index, 1);
  }
}
