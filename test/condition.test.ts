// Condition: threading.Condition over a Lock or RLock, on greenlets.
import { afterEach, describe, expect, it } from 'vitest';
import { Condition, GreenletExit, Lock, OverReleaseError, RLock, Semaphore, joinAll, sleep, spawn } from '../dist/entries/index.js';
import * as sync from '../dist/entries/sync.js';
import { expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

afterEach(expectNoFiberLeft);

describe('Condition', () => {
  it('is exported from greenfiber and greenfiber/sync', () => {
    expect(sync.Condition).toBe(Condition);
  });

  // CPython Lib/test/lock_tests.py ConditionTests.test_notify: waiters wake in order, n at a time.
  it('wakes waiters in arrival order, notify(n) n at a time, notifyAll() the rest', async () => {
    await inGreenlet(() => {
      const cond = new Condition();
      const woke: number[] = [];
      const waiters = [0, 1, 2, 3, 4].map((i) =>
        spawn(() => {
          cond.with(() => {
            expect(cond.wait()).toBe(true);
            woke.push(i);
          });
        }),
      );
      while (cond.waiting < 5) sleep(0);
      cond.with(() => cond.notify());
      while (woke.length < 1) sleep(0);
      expect(woke).toEqual([0]);
      cond.with(() => cond.notify(2));
      while (woke.length < 3) sleep(0);
      expect(woke).toEqual([0, 1, 2]);
      cond.with(() => cond.notifyAll());
      joinAll(waiters);
      expect(woke).toEqual([0, 1, 2, 3, 4]);
      expect(cond.waiting).toBe(0);
    });
  });

  it('wait() releases the lock while it waits and holds it again when it returns', async () => {
    await inGreenlet(() => {
      const lock = new RLock();
      const cond = new Condition(lock);
      const waiter = spawn(() => {
        cond.acquire();
        cond.acquire(); // an RLock held twice: wait() releases both levels and restores them
        try {
          cond.wait();
          expect(lock.isOwned()).toBe(true);
          cond.release();
          expect(lock.locked()).toBe(true);
        } finally {
          cond.release();
        }
      });
      while (cond.waiting < 1) sleep(0);
      expect(lock.locked()).toBe(false); // the waiter let it go
      expect(cond.acquire({ blocking: false })).toBe(true);
      cond.notify();
      sleep(0);
      expect(waiter.ready()).toBe(false); // woken, but waits for the lock we hold
      cond.release();
      waiter.join();
      expect(waiter.successful()).toBe(true);
      expect(lock.locked()).toBe(false);
    });
  });

  it('wait(timeout) returns false when not notified in time, and holds the lock again', async () => {
    await inGreenlet(() => {
      const cond = new Condition(new Lock());
      cond.with(() => {
        expect(cond.wait(5)).toBe(false);
        expect(cond.waiting).toBe(0);
        expect(() => cond.notify()).not.toThrow(); // still held
      });
    });
  });

  // CPython lock_tests.py ConditionTests.test_waitfor / test_waitfor_timeout.
  it('waitFor() returns the predicate value: truthy once it holds, falsy on timeout', async () => {
    await inGreenlet(() => {
      const cond = new Condition();
      let state = 0;
      const setter = spawn(() => {
        for (let i = 0; i < 3; i++) {
          sleep(1);
          cond.with(() => {
            state++;
            cond.notify();
          });
        }
      });
      const seen = cond.with(() => cond.waitFor(() => (state === 3 ? 'three' : '')));
      expect(seen).toBe('three');
      setter.join();
      const never = cond.with(() => cond.waitFor(() => state === 4, 10));
      expect(never).toBe(false);
      expect(cond.with(() => cond.waitFor(() => 0, -1))).toBe(0); // a negative timeout is 0: one check
    });
  });

  it('throws OverReleaseError when waiting or notifying without the lock', async () => {
    await inGreenlet(() => {
      const cond = new Condition();
      expect(() => cond.wait(1)).toThrow(OverReleaseError);
      expect(() => cond.waitFor(() => true)).toThrow(OverReleaseError);
      expect(() => cond.notify()).toThrow(OverReleaseError);
      expect(() => cond.notifyAll()).toThrow(OverReleaseError);
      // An RLock held by another greenlet is not ours either.
      const holder = spawn(() => cond.with(() => sleep(20)));
      sleep(1);
      expect(() => cond.notify()).toThrow(/needs the lock/);
      holder.join();
      expect(() => cond.release()).toThrow(OverReleaseError);
    });
  });

  it('a waiter killed while waiting leaves the list and holds the lock again in its finally', async () => {
    await inGreenlet(() => {
      const lock = new Lock();
      const cond = new Condition(lock);
      let heldInFinally: boolean | undefined;
      const waiter = spawn(() => {
        cond.acquire();
        try {
          cond.wait();
        } finally {
          heldInFinally = lock.locked();
          cond.release();
        }
      });
      while (cond.waiting < 1) sleep(0);
      waiter.kill();
      expect(waiter.value).toBeInstanceOf(GreenletExit);
      expect(heldInFinally).toBe(true);
      expect(cond.waiting).toBe(0);
      expect(lock.locked()).toBe(false);
    });
  });

  it('is disposable: `using` releases the lock at the end of the scope', async () => {
    await inGreenlet(() => {
      const lock = new RLock();
      const cond = new Condition(lock);
      {
        cond.acquire();
        using _held = cond;
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
    });
  });

  it('rejects what is not a lock, and bad arguments, naming them', () => {
    expect(() => new Condition({} as never)).toThrow(/for lock but received an object/);
    expect(() => new Condition(5 as never)).toThrow(TypeError);
    expect(() => new Condition(new Semaphore(1))).not.toThrow(); // any acquire/release works
    const cond = new Condition();
    expect(() => cond.wait('1' as never)).toThrow(/for timeout but received a string "1"/);
    expect(() => cond.wait(Number.NaN)).toThrow(RangeError);
    expect(() => cond.waitFor(5 as never)).toThrow(/for predicate/);
    expect(() => cond.notify(-1)).toThrow(RangeError);
    expect(() => cond.notify('2' as never)).toThrow(TypeError);
    expect(() => cond.with(null as never)).toThrow(/for fn but received null/);
    expect(() => cond.acquire({ timeout: 'x' } as never)).toThrow(/options\.timeout/);
  });
});
