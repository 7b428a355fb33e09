// The hub's FIFO of soon-to-run callbacks (gevent's callback loop): hub.runCallback(), callSoon()
// and the turn that runs them from a setImmediate. Also the two flags that tell the top level of a
// script from a loop callback (see top-level.ts), since a turn is what ends the top level.
import { handleError } from './report';

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

/**
 * @internal Where the main fiber is: `driving` while our own top-level drive of the loop runs
 * (including the ticks it drains); `loopStarted` once a hub turn ran from Node's own loop, after
 * which the top level is over for good.
 */
export const loopState = { driving: false, loopStarted: false };

// The hub's FIFO. A turn runs callbacks until the queue is empty, including those queued while it
// runs (a wake-up handed from one greenlet to the next costs no loop iteration), but for at most
// kTurnBudgetMs: then the rest waits for the next turn, after the loop has polled for I/O once more,
// so a greenlet looping on sleep(0) starves no one. gevent's callback loop works the same way.
let queue: QueuedCallback[] = [];
// True while a turn runs or is scheduled with setImmediate: enqueue() then schedules nothing.
let turnScheduled = false;
const kTurnBudgetMs = 5;
// Called by the first turn that leaves nothing queued (idle()).
let idlers: Array<() => void> = [];

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
  if (!loopState.driving) loopState.loopStarted = true;
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
    const wakes = idlers;
    idlers = [];
    for (const wake of wakes) wake();
  }
}

/** @internal Makes sure a hub turn runs soon, even with nothing queued (idle()). */
export function scheduleTurn(): void {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(runTurn);
  }
}

/** @internal Calls `wake` after the first turn that leaves nothing queued; returns its remover. */
export function onIdleTurn(wake: () => void): () => void {
  idlers.push(wake);
  scheduleTurn();
  return () => {
    const index = idlers.indexOf(wake);
    if (index >= 0) idlers.splice(index, 1);
  };
}

function enqueue(callback: QueuedCallback): QueuedCallback {
  queue.push(callback);
  scheduleTurn();
  return callback;
}

/** @internal hub.runCallback(fn, ...args). */
export function queueCallback(fn: (...args: any[]) => void, args: unknown[]): HubCallback {
  return enqueue(new QueuedCallback(fn, args, undefined));
}

/** @internal Like hub.runCallback(fn, arg) without the rest-arguments array. */
export function callSoon<A>(fn: (arg: A) => void, arg: A): HubCallback {
  return enqueue(new QueuedCallback(fn, undefined, arg));
}

/** @internal Whether the hub has callbacks waiting for their turn. */
export function hasPendingCallbacks(): boolean {
  return queue.length > 0;
}
