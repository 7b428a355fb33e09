// Semaphore, BoundedSemaphore, Lock, RLock: gevent.lock semantics, strict arrival order, misuse errors.
import { afterEach, describe, expect, it } from 'vitest';
import {
  BoundedSemaphore,
  fiberStats,
  GreenfiberError,
  joinAll,
  kLink,
  Lock,
  OverReleaseError,
  RLock,
  Semaphore,
  sleep,
  spawn,
  Greenlet,
} from '../dist/entries/index.js';

const green = <T>(fn: () => T) => (): Promise<T> => spawn(fn).promise();

afterEach(async () => {
  for (let i = 0; i < 100 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started).toBe(0);
});

describe('Semaphore', () => {
  // gevent test__semaphore.py TestSemaphore.test_acquire_returns_false_after_timeout
  it('returns false from acquire() after a timeout, or at once when not blocking', green(() => {
    const semaphore = new Semaphore(0);
    expect(semaphore.acquire({ timeout: 1 })).toBe(false);
    expect(semaphore.acquire({ blocking: false })).toBe(false);
    expect(semaphore.linkCount()).toBe(0);
    expect(semaphore.locked()).toBe(true);
  }));

  it('counts permits', green(() => {
    const semaphore = new Semaphore(2);
    expect(semaphore.acquire()).toBe(true);
    expect(semaphore.acquire()).toBe(true);
    expect(semaphore.locked()).toBe(true);
    expect(semaphore.release()).toBe(1);
    expect(semaphore.counter).toBe(1);
    expect(semaphore.release()).toBe(2);
    expect(semaphore.release()).toBe(3); // a plain Semaphore may be over-released
  }));

  it('rejects a bad initial value', () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
  });

  // gevent test__semaphore.py TestSemaphore.test_release_twice
  it('runs callbacks linked to it when it is ready', green(() => {
    const semaphore = new Semaphore();
    const result: string[] = [];
    semaphore[kLink](() => result.push('a'));
    semaphore.release();
    semaphore[kLink](() => result.push('b'));
    semaphore.release();
    sleep(0);
    expect(result.sort()).toEqual(['a', 'b']);
    expect(semaphore.counter).toBe(3); // watching never takes a permit
  }));

  it('hands a released permit to the longest waiter, not to a newcomer', green(() => {
    const semaphore = new Semaphore(1);
    semaphore.acquire();
    const order: string[] = [];
    const waiter = spawn(() => {
      semaphore.acquire();
      order.push('waiter');
      semaphore.release();
    });
    sleep(0);
    semaphore.release();
    // The permit is the waiter's already: a non-blocking newcomer cannot take it.
    expect(semaphore.acquire({ blocking: false })).toBe(false);
    waiter.join();
    expect(semaphore.acquire({ blocking: false })).toBe(true);
    order.push('newcomer');
    expect(order).toEqual(['waiter', 'newcomer']);
  }));

  it('wait() watches for a permit without taking it', green(() => {
    const semaphore = new Semaphore(0);
    const watcher = spawn(() => semaphore.wait());
    sleep(0);
    expect(semaphore.wait(1)).toBe(0);
    semaphore.release();
    expect(watcher.get()).toBe(1);
    expect(semaphore.counter).toBe(1);
  }));

  it('with() releases when the function throws', green(() => {
    const semaphore = new Semaphore(1);
    expect(() => semaphore.with(() => {
      expect(semaphore.locked()).toBe(true);
      throw new Error('inside');
    })).toThrow('inside');
    expect(semaphore.locked()).toBe(false);
    expect(semaphore.with(() => 5)).toBe(5);
  }));

  // gevent test__semaphore.py TestSemaphoreFair.test_fair_or_hangs (gevent issue #1487)
  it('is fair: two greenlets passing a permit back and forth cannot starve a third', green(() => {
    const semaphore = new Semaphore();
    const shouldQuit: boolean[] = [];
    const acquireThenExit = (): void => {
      semaphore.acquire();
      shouldQuit.push(true);
    };
    const acquireThenSpawn = (): void => {
      if (shouldQuit.length > 0) return;
      semaphore.acquire();
      spawn(releaseThenSpawn).join();
    };
    const releaseThenSpawn = (): void => {
      semaphore.release();
      if (shouldQuit.length > 0) return;
      spawn(acquireThenSpawn).join();
    };
    const keepGoing1 = spawn(acquireThenSpawn);
    const keepGoing2 = spawn(acquireThenSpawn);
    const exiting = spawn(acquireThenExit);
    // Waited for, not timed: with an unfair semaphore `exiting` would never get the permit.
    expect(exiting.join(30_000)).toBe(true);
    expect(keepGoing2.join(30_000)).toBe(true);
    expect(keepGoing1.dead).toBe(false); // parked in acquire(): `exiting` kept the permit
    semaphore.release();
    expect(keepGoing1.join(1000)).toBe(true);
  }));
});

describe('BoundedSemaphore and Lock', () => {
  it('throw OverReleaseError when released past their bound', green(() => {
    const semaphore = new BoundedSemaphore(2);
    semaphore.acquire();
    semaphore.release();
    let error: unknown;
    try {
      semaphore.release();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OverReleaseError);
    expect(error).toBeInstanceOf(GreenfiberError);
    expect((error as OverReleaseError).code).toBe('GF_ERR_OVER_RELEASE');
    expect(semaphore.counter).toBe(2);
    const lock = new Lock();
    expect(() => lock.release()).toThrow(OverReleaseError);
  }));

  it('Lock lets one greenlet in at a time, in arrival order', green(() => {
    const lock = new Lock();
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const workers = [1, 2, 3, 4, 5].map((id) => spawn(() => lock.with(() => {
      inside++;
      most = Math.max(most, inside);
      order.push(id);
      sleep(1);
      inside--;
    })));
    joinAll(workers);
    expect(most).toBe(1);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(lock.locked()).toBe(false);
  }));

  it('Lock is not owned: another greenlet may release it', green(() => {
    const lock = new Lock();
    lock.acquire();
    spawn(() => lock.release()).join();
    expect(lock.locked()).toBe(false);
  }));
});

describe('RLock', () => {
  it('is reentrant for its holder and excludes others until fully released', green(() => {
    const lock = new RLock();
    expect(lock.acquire()).toBe(true);
    expect(lock.acquire()).toBe(true);
    expect(lock.locked()).toBe(true);
    const other = spawn(() => lock.acquire({ blocking: false }));
    expect(other.get()).toBe(false);
    const waiter = spawn(() => {
      lock.acquire();
      lock.release();
      return 'got it';
    });
    sleep(0);
    expect(waiter.ready()).toBe(false);
    lock.release();
    sleep(0);
    expect(waiter.ready()).toBe(false);
    lock.release();
    expect(waiter.get()).toBe('got it');
    expect(lock.locked()).toBe(false);
  }));

  it('refuses a release by a greenlet that does not hold it', green(() => {
    const lock = new RLock();
    expect(() => lock.release()).toThrow(OverReleaseError);
    lock.acquire();
    const intruder: Greenlet<unknown> = spawn(() => {
      try {
        lock.release();
        return 'released';
      } catch (error) {
        return error;
      }
    });
    expect(intruder.get()).toBeInstanceOf(OverReleaseError);
    expect(lock.with(() => lock.locked())).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
  }));

  it('times out in acquire() while another greenlet holds it', green(() => {
    const lock = new RLock();
    const holder = spawn(() => {
      lock.acquire();
      sleep(20);
      lock.release();
    });
    sleep(0);
    expect(lock.acquire({ timeout: 1 })).toBe(false);
    expect(lock.acquire()).toBe(true);
    expect(holder.dead).toBe(true);
    lock.release();
  }));
});
