// Condition (threading.Condition, which gevent patches to run on greenlets): greenlets wait,
// holding a lock, until another greenlet that holds it too notifies them.
import { OverReleaseError } from './errors';
import { Event } from './event';
import { readAcquireOptions, RLock, type AcquireOptions } from './lock';
import { checkCount, checkFunction, checkTimeout, invalidArgument } from './validate';

/** What a Condition can be built over: a Lock, an RLock, or anything with their acquire/release. */
export interface ConditionLock {
  acquire(options?: AcquireOptions): boolean;
  release(): unknown;
  locked?(): boolean;
}

interface OwnedLock extends ConditionLock {
  isOwned(): boolean;
  releaseSave(): number;
  acquireRestore(count: number): void;
}

function isOwnedLock(lock: ConditionLock): lock is OwnedLock {
  return typeof (lock as OwnedLock).isOwned === 'function' && typeof (lock as OwnedLock).releaseSave === 'function';
}

/**
 * A condition variable (threading.Condition): over a lock (default a new RLock), greenlets that
 * hold the lock wait() until another greenlet holding it calls notify() or notifyAll(). wait()
 * releases the lock while it waits and takes it back before it returns, as in Python; waiters are
 * woken in the order they waited. Waiting or notifying without holding the lock throws
 * OverReleaseError (Python's RuntimeError). With a plain Lock (not owned), "holding" means
 * "locked", as threading does for locks without an owner.
 *
 * ```ts
 * const cond = new Condition();
 * cond.with(() => { while (!ready) cond.wait(); consume(); });   // a consumer greenlet
 * cond.with(() => { ready = true; cond.notify(); });             // a producer greenlet
 * ```
 *
 * Disposable: `cond.acquire(); using _ = cond;` releases the lock at the end of the scope.
 */
export class Condition {
  readonly #lock: ConditionLock;
  /** One Event per waiting greenlet, in arrival order; notify() sets and removes them. */
  #waiters: Event[] = [];

  /**
   * @param lock the lock to use (a Lock, RLock or one with their acquire/release); default a new RLock.
   * @throws TypeError if `lock` has no acquire() and release().
   */
  constructor(lock: ConditionLock = new RLock()) {
    if (typeof lock !== 'object' || lock === null || typeof lock.acquire !== 'function' || typeof lock.release !== 'function') {
      throw invalidArgument('lock', 'a Lock, an RLock or an object with acquire() and release()', lock);
    }
    this.#lock = lock;
  }

  /** Acquires the underlying lock (same options and result as its acquire()). Blocks. */
  acquire(options?: AcquireOptions): boolean {
    readAcquireOptions(options);
    return this.#lock.acquire(options);
  }

  /** Releases the underlying lock. @throws OverReleaseError as the lock does. */
  release(): void {
    this.#lock.release();
  }

  /** Runs `fn` holding the lock: acquire(), `fn()`, release() however `fn` ends. */
  with<R>(fn: () => R): R {
    checkFunction(fn, 'fn');
    this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /** release(), as `using` calls it. */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * Releases the lock, blocks until notified or `timeout` ms pass, then takes the lock back (also
   * when killed or timed out by an outer Timeout: the lock is held again when it raises).
   * @returns true if notified, false if the timeout expired first.
   * @throws OverReleaseError if the current greenlet does not hold the lock; TypeError /
   *   RangeError for a bad `timeout`; BlockingOnHubError in a plain loop callback.
   */
  wait(timeout?: number | null): boolean {
    const ms = checkTimeout(timeout);
    this.#checkOwned('wait');
    const waiter = new Event();
    this.#waiters.push(waiter);
    const saved = this.#releaseSave();
    let notified = false;
    try {
      notified = waiter.wait(ms);
    } finally {
      // Timed out (or killed) but notify() took it meanwhile: that notification is ours.
      if (!notified) {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        else notified = true;
      }
      this.#acquireRestore(saved);
    }
    return notified;
  }

  /**
   * Waits until `predicate()` returns a truthy value, calling it first and after each wake-up,
   * for at most `timeout` ms in all (threading's wait_for).
   * @returns the predicate's last value (falsy if the timeout expired).
   * @throws as wait(); TypeError if `predicate` is not a function.
   */
  waitFor<T>(predicate: () => T, timeout?: number | null): T {
    checkFunction(predicate, 'predicate');
    const ms = checkTimeout(timeout);
    this.#checkOwned('waitFor');
    const deadline = ms === undefined ? undefined : performance.now() + ms;
    let result = predicate();
    while (!result) {
      let left: number | undefined;
      if (deadline !== undefined) {
        left = deadline - performance.now();
        if (left <= 0) break;
      }
      this.wait(left);
      result = predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` greenlets waiting on it, longest-waiting first; they run once the notifier
   * releases the lock. Never blocks.
   * @throws OverReleaseError if the current greenlet does not hold the lock; TypeError /
   *   RangeError unless `n` is a non-negative integer (or Infinity).
   */
  notify(n = 1): void {
    checkCount(n, 'n', 0, true);
    this.#checkOwned('notify');
    const woken = this.#waiters.splice(0, n);
    for (const waiter of woken) waiter.set();
  }

  /** Wakes every waiting greenlet (threading's notify_all). @throws as notify(). */
  notifyAll(): void {
    this.#checkOwned('notifyAll');
    this.notify(this.#waiters.length);
  }

  /** How many greenlets wait on it now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  #checkOwned(what: string): void {
    const lock = this.#lock;
    const owned = isOwnedLock(lock) ? lock.isOwned() : typeof lock.locked === 'function' ? lock.locked() : ownedByProbe(lock);
    if (!owned) throw new OverReleaseError(`Condition.${what}() needs the lock: acquire() it (or use with()) first`);
  }

  #releaseSave(): number {
    const lock = this.#lock;
    if (isOwnedLock(lock)) return lock.releaseSave();
    lock.release();
    return 1;
  }

  #acquireRestore(saved: number): void {
    const lock = this.#lock;
    if (isOwnedLock(lock)) lock.acquireRestore(saved);
    else lock.acquire();
  }

  toString(): string {
    return `<Condition waiters=${this.#waiters.length}>`;
  }
}

// threading's fallback for a lock without an owner: it is "held" if it cannot be acquired now.
function ownedByProbe(lock: ConditionLock): boolean {
  if (lock.acquire({ blocking: false })) {
    lock.release();
    return false;
  }
  return true;
}
