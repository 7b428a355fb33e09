// Timers of any length: Node runs a setTimeout longer than 2**31 - 1 ms after 1 ms (with a
// warning), so longer delays are chained in slices; Infinity arms nothing. Used by sleep(),
// spawnLater(), Timeout and iwait() alike.

/** Node's longest single timer, in ms (~24.8 days). @internal */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending long timer: cancel() stops it; idempotent. @internal */
export interface LongTimer {
  cancel(): void;
}

class Chained<A> implements LongTimer {
  #timer: NodeJS.Timeout | undefined;
  #left: number;

  constructor(
    readonly fn: (arg: A) => void,
    readonly arg: A,
    ms: number,
  ) {
    this.#left = ms;
    this.#timer = this.#arm();
  }

  #arm(): NodeJS.Timeout {
    const slice = Math.min(this.#left, MAX_TIMER_MS);
    this.#left -= slice;
    return setTimeout(Chained.fire, slice, this);
  }

  static fire(timer: Chained<any>): void {
    if (timer.#left > 0) {
      timer.#timer = timer.#arm();
      return;
    }
    timer.#timer = undefined;
    timer.fn(timer.arg);
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

const never: LongTimer = { cancel() {} };

/**
 * Calls `fn(arg)` in `ms` milliseconds, however long that is; `ms` Infinity never calls it (and
 * holds no timer). `ms` must be a number >= 0 (checked by the caller).
 * @internal
 */
export function setLongTimeout<A>(fn: (arg: A) => void, ms: number, arg: A): LongTimer {
  if (ms === Infinity) return never;
  if (ms <= MAX_TIMER_MS) {
    const timer = setTimeout(fn, ms, arg);
    return { cancel: () => clearTimeout(timer) };
  }
  return new Chained(fn, arg, ms);
}
