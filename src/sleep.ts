// sleep() and idle() (gevent.sleep, gevent.idle): a greenlet gives the hub a turn, or waits for time.
import { callSoon, onIdleTurn } from './callbacks';
import { assertCanBlock } from './park';
import { Waiter } from './waiter';

/** @internal Node runs timers longer than this after 1 ms: treat them as never firing. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function wakeWaiter(waiter: Waiter<void>): void {
  waiter.switch(undefined);
}

/**
 * Blocks the current greenlet for `ms` milliseconds. `sleep(0)` (the default) lets every other
 * greenlet that is ready to run go first, round robin, and comes back on the next hub turn.
 * @throws BlockingOnHubError in a loop callback outside any greenlet.
 */
export function sleep(ms = 0): void {
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw new TypeError(`Expected a number of milliseconds for ms but received ${String(ms)}`);
  assertCanBlock();
  const waiter = new Waiter<void>();
  if (ms <= 0) {
    const callback = callSoon(wakeWaiter, waiter);
    try {
      waiter.get();
    } finally {
      callback.cancel();
    }
    return;
  }
  if (ms > MAX_TIMER_MS) {
    waiter.get(); // never woken by a timer: only a kill or a Timeout ends it
    return;
  }
  const timer = setTimeout(wakeWaiter, ms, waiter);
  try {
    waiter.get();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Blocks the current greenlet until the hub is idle: a turn has run and left no other callback
 * or greenlet ready to run (gevent.idle). Blocks.
 */
export function idle(): void {
  assertCanBlock();
  const waiter = new Waiter<void>();
  const remove = onIdleTurn(() => waiter.switch(undefined));
  try {
    waiter.get();
  } finally {
    remove();
  }
}
