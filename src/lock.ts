// Locks (gevent.lock): Semaphore, BoundedSemaphore, Lock and RLock. Permits are handed to parked
// greenlets in arrival order at release() time, so a waiter is never overtaken by a newcomer.
import { OverReleaseError } from './errors';
import { Fiber } from './fiber';
import { grant, Link, Linkable, park, Parked } from './linkable';
import { checkCount, checkFunction, checkOptionalBoolean, checkTimeout, readOptions } from './validate';

const enum Kind {
  /** wait(), or a linked callback (Link's default kind): only watches for a free permit. */
  Observe = 0,
  /** acquire(): takes the permit it is granted. */
  Acquire = 1,
}

export interface AcquireOptions {
  /** false: never block; return false at once if no permit is free. Default true. */
  blocking?: boolean;
  /** ms to wait at most (blocking only); then acquire() returns false. */
  timeout?: number | null;
}

const NO_ACQUIRE_OPTIONS = Object.freeze({ blocking: undefined, timeout: undefined });

/** @internal Checks acquire()'s options: `blocking` a boolean, `timeout` by the rule for times. */
export function readAcquireOptions(options: unknown): { readonly blocking: boolean | undefined; readonly timeout: number | undefined } {
  if (options === undefined) return NO_ACQUIRE_OPTIONS; // the hot path allocates nothing
  const read = readOptions(options, 'options', ['blocking', 'timeout']);
  return { blocking: checkOptionalBoolean(read.blocking, 'options.blocking'), timeout: checkTimeout(read.timeout, 'options.timeout') };
}

/**
 * A counter of permits (gevent.lock.Semaphore): acquire() takes one, blocking while there is
 * none; release() gives one back, to the longest-waiting greenlet if any. Not owned: any greenlet,
 * loop callback or async code may release. Over-releasing is allowed (see BoundedSemaphore).
 */
export class Semaphore extends Linkable {
  #counter: number;
  readonly #giveBack = (): void => {
    this.releaseUnchecked();
  };

  /** @throws TypeError unless `value` is a number; RangeError unless a non-negative integer. */
  constructor(value = 1) {
    super();
    this.#counter = checkCount(value, 'value') ?? 1;
  }

  /** Permits free now. */
  get counter(): number {
    return this.#counter;
  }

  /** True if acquire() would block. */
  locked(): boolean {
    return this.#counter <= 0;
  }

  /** True if acquire() would not block. */
  ready(): boolean {
    return this.#counter > 0;
  }

  /**
   * Takes a permit, blocking the current greenlet while none is free.
   * @returns true if acquired; false if `blocking` is false and none was free, or the timeout
   *   expired.
   * @throws BlockingOnHubError when it would block in a plain loop callback; whatever is raised
   *   into the greenlet while it waits (kill, an outer Timeout). A greenlet killed while waiting
   *   never holds a permit.
   */
  acquire(options?: AcquireOptions): boolean {
    const { blocking, timeout } = readAcquireOptions(options);
    if (this.#counter > 0) {
      this.#counter--;
      return true;
    }
    if (blocking === false) return false;
    const link = new Link();
    link.kind = Kind.Acquire;
    return park(this.links, link, timeout, this.#giveBack) === Parked.Granted;
  }

  /**
   * Gives a permit back, to the longest-waiting greenlet if there is one (it wakes on the hub's
   * next turn). Callable from anywhere; never blocks.
   * @returns the permits free afterwards.
   */
  release(): number {
    return this.releaseUnchecked();
  }

  /** @internal release() without a subclass's checks. */
  protected releaseUnchecked(): number {
    this.#counter++;
    this.#notify();
    return this.#counter;
  }

  // Hands free permits to the links in arrival order; observers watch without taking one.
  #notify(): void {
    while (this.#counter > 0 && this.links.head !== null) {
      const link = this.links.head;
      if (link.kind === Kind.Acquire) this.#counter--;
      grant(link);
    }
  }

  /**
   * Blocks until a permit is free (without taking it) or `timeout` ms pass.
   * @returns the permits free now (0 if the timeout expired, or if others took them first).
   */
  wait(timeout?: number | null): number {
    const ms = checkTimeout(timeout);
    if (this.#counter > 0) return this.#counter;
    const link = new Link();
    link.kind = Kind.Observe;
    park(this.links, link, ms, null);
    return this.#counter;
  }

  /**
   * Runs `fn` holding a permit: acquire(), then `fn()`, then release() however `fn` ends.
   * `fn` runs synchronously (blocking-style); the permit is released when it returns or throws.
   */
  with<R>(fn: () => R): R {
    checkFunction(fn, 'fn');
    this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /**
   * release(), as `using` calls it: `sem.acquire(); using _ = sem;` gives the permit back at the
   * end of the scope, however it ends.
   */
  [Symbol.dispose](): void {
    this.release();
  }

  protected result(): number {
    return this.#counter;
  }

  override toString(): string {
    return `<${this.constructor.name} counter=${this.#counter} waiters=${this.links.length}>`;
  }
}

/**
 * A Semaphore that refuses to be released past its initial value: the safer choice for guarding
 * a resource of fixed capacity (gevent.lock.BoundedSemaphore).
 */
export class BoundedSemaphore extends Semaphore {
  readonly #bound: number;

  constructor(value = 1) {
    super(value);
    this.#bound = value;
  }

  /** @throws OverReleaseError if every permit is already free. */
  override release(): number {
    if (this.counter >= this.#bound) {
      throw new OverReleaseError(`${this.constructor.name} released too many times: all ${this.#bound} permit(s) are already free; release only what you acquired`);
    }
    return this.releaseUnchecked();
  }
}

/**
 * A mutex (threading.Lock; gevent monkey-patches it to a BoundedSemaphore(1)): not reentrant, not
 * owned; releasing it when unlocked throws OverReleaseError.
 */
export class Lock extends BoundedSemaphore {
  constructor() {
    super(1);
  }
}

/**
 * A reentrant mutex (gevent.lock.RLock): the greenlet holding it may acquire it again; it is free
 * once every acquire() has been matched by a release() from that same greenlet. Ownership is per
 * fiber (outside greenlets, the main fiber owns it).
 */
export class RLock {
  readonly #block = new Semaphore(1);
  #owner: Fiber | null = null;
  #count = 0;

  /** Acquires, or re-acquires if the current greenlet holds it. Same contract as Semaphore.acquire(). */
  acquire(options?: AcquireOptions): boolean {
    const checked = readAcquireOptions(options);
    const me = Fiber.current;
    if (this.#owner === me) {
      this.#count++;
      return true;
    }
    if (!this.#block.acquire(checked)) return false;
    this.#owner = me;
    this.#count = 1;
    return true;
  }

  /**
   * Undoes one acquire() of the current greenlet; the last one frees the lock for the next waiter.
   * @throws OverReleaseError if the current greenlet does not hold it.
   */
  release(): void {
    if (this.#owner !== Fiber.current || this.#count === 0) {
      throw new OverReleaseError(`cannot release an RLock that ${this.#owner === null ? 'nobody holds' : 'another greenlet holds'}: only the holder may release it`);
    }
    if (--this.#count === 0) {
      this.#owner = null;
      this.#block.release();
    }
  }

  /** True while some greenlet holds it. */
  locked(): boolean {
    return this.#count > 0;
  }

  /** release(), as `using` calls it: `lock.acquire(); using _ = lock;`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal Whether the current fiber holds it (Condition's ownership check). */
  isOwned(): boolean {
    return this.#owner === Fiber.current && this.#count > 0;
  }

  /** @internal Releases it fully, whatever the depth, and returns the depth (Condition.wait()). */
  releaseSave(): number {
    const count = this.#count;
    this.#count = 0;
    this.#owner = null;
    this.#block.release();
    return count;
  }

  /** @internal Re-acquires it to the depth releaseSave() returned. Blocks like acquire(). */
  acquireRestore(count: number): void {
    this.#block.acquire();
    this.#owner = Fiber.current;
    this.#count = count;
  }

  /** Runs `fn` holding the lock (see Semaphore.with()). */
  with<R>(fn: () => R): R {
    checkFunction(fn, 'fn');
    this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  toString(): string {
    return `<RLock ${this.#count > 0 ? `held by ${this.#owner?.name} (${this.#count})` : 'free'}>`;
  }
}
