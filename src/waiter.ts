// Waiter: the one-shot rendezvous every blocking call uses (gevent.hub.Waiter). A greenlet parks
// in get() until a delivery from anywhere resumes it; the main fiber drives the loop instead.
import { FiberError } from './errors';
import { Fiber } from './fiber';
import { callSoon, type HubCallback } from './callbacks';
import { driveFor, park, resume, takeMainPendingError } from './park';

const mainFiber = Fiber.main;

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
        takeMainPendingError();
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
