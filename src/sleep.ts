// sleep() and idle() (gevent.sleep, gevent.idle): a greenlet gives the hub a turn, or waits for time.
import { callSoon, onIdleTurn } from './callbacks';
import { setLongTimeout } from './long-timer';
import { assertCanBlock } from './park';
import { checkDelay } from './validate';
import { Waiter } from './waiter';

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
