// Timeout: a timer that raises in the fiber that started it, at its current or next blocking
// point (gevent.Timeout). The Timeout is itself what is raised, unless another error was given.
import { callSoon } from './callbacks';
import { brand } from './errors';
import { Fiber } from './fiber';
import { interrupt } from './hub';
import { setLongTimeout, type LongTimer } from './long-timer';
import { checkFunction, checkTimeout, readOptions } from './validate';

const kNoDefault = Symbol('greenfiber.noDefault');

/**
 * A timeout for the code of one fiber, and the error it raises. `Timeout.start(ms)` arms it for
 * the current fiber; when `ms` elapse before `cancel()`, it raises (itself, or the `error` given)
 * in that fiber at its current blocking point (or its next one). A control-flow exception, not a
 * GreenfiberError. Disposable: `using t = Timeout.start(100)` cancels it at scope end.
 *
 * ```ts
 * const t = Timeout.start(100);
 * try { sleep(1000); } catch (e) { if (e !== t) throw e; } finally { t.cancel(); }
 * ```
 */
export class Timeout extends Error {
  override name = 'Timeout';
  /** Milliseconds from start() to expiry; undefined for a timeout that never fires. */
  readonly ms: number | undefined;
  /**
   * What is raised on expiry. This Timeout itself when it is undefined, a boolean (gevent's False
   * only matters to context managers) or a string (which then ends the message).
   */
  readonly error: unknown;
  #timer: { cancel(): void } | undefined = undefined;
  #fiber: Fiber | undefined = undefined;

  /**
   * Creates an unarmed timeout; call start(). `ms` null, undefined or Infinity makes one that
   * never fires; a negative `ms` is 0: it expires at the first blocking point after start() (the
   * first call that parks, `sleep(0)` included), every time.
   * @throws TypeError if `ms` is not a number (or null/undefined); RangeError if it is NaN.
   */
  constructor(ms?: number | null, error?: unknown) {
    const checked = checkTimeout(ms, 'ms');
    const message = checked === undefined ? 'timeout that never expires' : `timed out after ${checked} ms`;
    super(typeof error === 'string' ? `${message}: ${error}` : message);
    this.ms = checked;
    this.error = error;
  }

  /** Creates and starts a timeout for the current fiber. Never blocks; callable from anywhere. */
  static start(ms: number, error?: unknown): Timeout {
    const timeout = new Timeout(ms, error);
    timeout.start();
    return timeout;
  }

  /**
   * Like start(), but for `ms` null, undefined or Infinity returns a shared timeout that never
   * fires and costs nothing (gevent's _start_new_or_dummy): for primitives whose timeout is optional.
   * @throws TypeError / RangeError as the constructor.
   */
  static startNewOrDummy(ms: number | null | undefined, error?: unknown): Timeout {
    if (ms === undefined || ms === null || ms === Infinity) return dummy;
    return Timeout.start(ms, error);
  }

  /** Arms the timer for the current fiber. @throws Error if it is already pending. */
  start(): void {
    if (this.ms === undefined) return; // never fires
    if (this.#timer !== undefined) throw new Error('this Timeout is already pending; cancel() it before starting it again');
    this.#fiber = Fiber.current;
    // 0 ms (or negative): a hub callback queued now, so it runs before whatever the fiber's first
    // blocking point queues (sleep(0)'s wake-up included) and raises there, every time. A 0 ms timer
    // would race with that (Node's timers and the hub's callbacks run in different loop phases).
    this.#timer = this.ms <= 0 ? callSoon(expire, this) : setLongTimeout(expire, this.ms, this);
  }

  /** Whether the timer is armed and has not fired. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Disarms the timer if it has not fired yet. Idempotent. */
  cancel(): void {
    if (this.#timer === undefined) return;
    this.#timer.cancel();
    this.#timer = undefined;
    this.#fiber = undefined;
  }

  /** cancel(), as `using` calls it. */
  [Symbol.dispose](): void {
    this.cancel();
  }

  /** @internal */
  static expire(timeout: Timeout): void {
    const fiber = timeout.#fiber;
    timeout.#timer = undefined;
    timeout.#fiber = undefined;
    const { error } = timeout;
    const raised = error === undefined || error === null || typeof error === 'boolean' || typeof error === 'string' ? timeout : error;
    if (fiber !== undefined) interrupt(fiber, raised);
  }
}
brand(Timeout, 'Timeout');

function expire(timeout: Timeout): void {
  Timeout.expire(timeout);
}

const dummy: Timeout = new Timeout(undefined);

/**
 * Runs `fn()` with a timeout of `ms` for the current fiber. If it expires, the Timeout is raised,
 * or, when `options.default` is given, `withTimeout` returns that instead. Blocks as `fn` does.
 */
export function withTimeout<T, D = T>(ms: number, fn: () => T, options?: { default?: D }): T | D {
  checkTimeout(ms, 'ms');
  checkFunction(fn, 'fn');
  readOptions(options, 'options', []);
  const fallback: D | typeof kNoDefault = options !== undefined && 'default' in options ? (options.default as D) : kNoDefault;
  const timeout = Timeout.start(ms);
  try {
    return fn();
  } catch (error) {
    if (error === timeout && fallback !== kNoDefault) return fallback;
    throw error;
  } finally {
    timeout.cancel();
  }
}
