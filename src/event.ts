// Event and AsyncResult (gevent.event): one greenlet wakes up any number of others, once or with a
// value. Both are waitables, so wait(), waitAll() and iwait() accept them.
import { checkTimeout, Linkable } from './linkable';

/**
 * Callback registration shared by Event and AsyncResult (gevent's rawlink/link/unlink). A callback
 * is called once, the next time the object is set (soon, on the hub, if it is set now), with the
 * object; it is then unregistered. Errors it throws are reported like a hub callback's.
 */
abstract class LinkableResult extends Linkable {
  /**
   * Calls `callback(this)` on the hub once set: cheap, and it must not block (gevent's rawlink).
   * Callable from anywhere; never blocks.
   * @throws TypeError if `callback` is not a function.
   */
  rawlink(callback: (source: this) => void): void {
    this.addLink(callback, false);
  }

  /**
   * Calls `callback(this)` once set, in a fiber of its own started from the hub, so it may block
   * (as Greenlet.link() does). Callable from anywhere; never blocks.
   * @throws TypeError if `callback` is not a function.
   */
  link(callback: (source: this) => void): void {
    this.addLink(callback, true);
  }

  /** Removes a callback added with rawlink() or link() that has not been called yet; a no-op otherwise. */
  unlink(callback: (source: this) => void): void {
    this.removeLink(callback);
  }
}
import { Timeout } from './timeout';
import { checkOptionalBoolean, readOptions } from './validate';
import { kResult } from './waitable';

/**
 * A flag that greenlets wait on until another greenlet, a loop callback or async code sets it
 * (gevent.event.Event, threading.Event). Waiters are woken in the order they waited.
 */
export class Event extends LinkableResult {
  #flag = false;

  /** Whether the flag is set. Never blocks. */
  isSet(): boolean {
    return this.#flag;
  }

  /** Same as isSet(): the waitable protocol's readiness. */
  ready(): boolean {
    return this.#flag;
  }

  /**
   * Sets the flag and wakes every greenlet waiting now (on the hub's next turn, in arrival
   * order). Later wait() calls return at once until clear(). Callable from anywhere; never blocks.
   */
  set(): void {
    this.#flag = true;
    this.grantAll();
  }

  /** Resets the flag; wait() blocks again until the next set(). Waiters already woken stay woken. */
  clear(): void {
    this.#flag = false;
  }

  /**
   * Blocks until the flag is set, or `timeout` ms pass.
   * @returns true if the flag was set at some point during the wait (even if cleared since), false
   *   on timeout.
   * @throws BlockingOnHubError in a plain loop callback (see Waiter.get()); whatever is raised into
   *   the greenlet while it waits (kill, an outer Timeout).
   */
  wait(timeout?: number | null): boolean {
    const ms = checkTimeout(timeout);
    if (this.#flag && this.pendingWakes === 0) return true;
    return this.waitCore(ms);
  }

  protected result(): boolean {
    return true;
  }

  override toString(): string {
    return `<Event ${this.#flag ? 'set' : 'clear'} links=${this.links.length}>`;
  }
}

const kUnset = Symbol('unset');

/**
 * A one-time result: a value or an error that greenlets wait for (gevent.event.AsyncResult, a
 * future). `set()` / `setException()` are callable from anywhere and wake every waiter.
 */
export class AsyncResult<T = unknown> extends LinkableResult {
  #value: T | typeof kUnset = kUnset;
  #exception: unknown = kUnset;

  /** What wait() returns for it: the value (or the error, thrown). Typed T, so `wait(result)` is T. */
  override [kResult](): T {
    return super[kResult]() as T;
  }

  /** Whether it holds a value or an error. */
  ready(): boolean {
    return this.#value !== kUnset || this.#exception !== kUnset;
  }

  /** Whether it holds a value (not an error). */
  successful(): boolean {
    return this.#value !== kUnset;
  }

  /** The value passed to set(), or undefined. */
  get value(): T | undefined {
    return this.#value === kUnset ? undefined : this.#value;
  }

  /** The error passed to setException(), or undefined. */
  get exception(): unknown {
    return this.#exception === kUnset ? undefined : this.#exception;
  }

  /** Stores `value` and wakes every waiter. Callable from anywhere; never blocks. */
  set(value: T): void {
    this.#value = value;
    this.#exception = kUnset;
    this.grantAll();
  }

  /** Stores `error`, which get() will throw, and wakes every waiter. Callable from anywhere. */
  setException(error: unknown): void {
    this.#exception = error;
    this.#value = kUnset;
    this.grantAll();
  }

  /**
   * Returns the value or throws the stored error, blocking until there is one.
   * @param options.block false: never block; throws a Timeout if not ready.
   * @param options.timeout ms to wait at most; then the Timeout is thrown (as gevent does).
   * @throws the stored error; Timeout; BlockingOnHubError in a plain loop callback.
   */
  get(options: { block?: boolean; timeout?: number | null } = {}): T {
    const read = readOptions(options, 'options', ['block', 'timeout']);
    const block = checkOptionalBoolean(read.block, 'options.block');
    const timeout = checkTimeout(read.timeout, 'options.timeout');
    if (this.#value !== kUnset) return this.#value;
    if (this.#exception !== kUnset) throw this.#exception;
    if (block === false) throw new Timeout(0);
    this.waitCore(timeout, true);
    return this.get({ block: false });
  }

  /** get({ block: false }). */
  getNowait(): T {
    return this.get({ block: false });
  }

  /**
   * Blocks until ready or `timeout` ms pass. Never throws the stored error.
   * @returns the value, or undefined if it holds an error or the timeout expired.
   */
  wait(timeout?: number | null): T | undefined {
    const ms = checkTimeout(timeout);
    if (!this.ready() || this.pendingWakes > 0) this.waitCore(ms);
    return this.value;
  }

  protected result(): T {
    return this.get({ block: false });
  }

  override toString(): string {
    const state = this.#value !== kUnset ? 'value' : this.#exception !== kUnset ? 'exception' : 'unset';
    return `<AsyncResult ${state} links=${this.links.length}>`;
  }
}
