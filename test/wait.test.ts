// wait / waitAll / iwait / blocking: waiting on promises, greenlets and the sync primitives through
// the waitable protocol. Cases ported from gevent's test__iwait.py and test__greenlet.py.
import { afterEach, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  BlockingOnHubError,
  Event,
  Semaphore,
  Timeout,
  blocking,
  iwait,
  kLink,
  kReady,
  kResult,
  kUnlink,
  sleep,
  spawn,
  wait,
  waitAll,
  type Waitable,
} from '../dist/entries/index.js';
import { runFixture } from './helpers';
import { captureReports, expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

// A greenlet failing on purpose is reported here, not to stderr.
captureReports((error) => error instanceof SyntaxError && error.message === 'greenlet failed');

afterEach(expectNoFiberLeft);

const delay = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

/** A minimal waitable, as a third party would write one. */
class Flag implements Waitable<string> {
  #callbacks: Array<(source: Waitable<string>) => void> = [];
  #value: string | undefined;
  set(value: string): void {
    this.#value = value;
    for (const callback of this.#callbacks.splice(0)) callback(this);
  }
  [kLink](callback: (source: Waitable<string>) => void): void {
    if (this.#value !== undefined) queueMicrotask(() => callback(this));
    else this.#callbacks.push(callback);
  }
  [kUnlink](callback: (source: Waitable<string>) => void): void {
    this.#callbacks = this.#callbacks.filter((c) => c !== callback);
  }
  [kReady](): boolean {
    return this.#value !== undefined;
  }
  [kResult](): string {
    return this.#value!;
  }
  get linkCount(): number {
    return this.#callbacks.length;
  }
}

describe('wait', () => {
  it('waits for promises and thenables: values and errors', async () => {
    await inGreenlet(() => {
      expect(wait(delay(2, 'later'))).toBe('later');
      expect(wait(Promise.resolve('now'))).toBe('now');
      expect(() => wait(Promise.reject(new RangeError('rejected')))).toThrow(RangeError);
      const thenable = { then: (resolve: (v: string) => void) => setTimeout(() => resolve('thenable'), 1) };
      expect(wait(thenable as unknown as PromiseLike<string>)).toBe('thenable');
    });
  });

  it('a promise or thenable seen to settle is ready at once the next time, however it was made', async () => {
    await inGreenlet(() => {
      const parks = (fn: () => unknown): boolean => {
        // Parking lets the loop run: a setImmediate callback queued before it has run after it.
        let ran = false;
        setImmediate(() => (ran = true));
        fn();
        return ran;
      };
      const plain = delay(1, 'plain');
      const frozen = Object.freeze(delay(1, 'frozen'));
      const proxied = new Proxy(delay(1, 'proxied'), {
        get: (target, key) => {
          const value = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
        set: () => {
          throw new Error('the proxy was written to');
        },
      });
      const rejected = delay(1, 'x').then(() => {
        throw new RangeError('rejected later');
      });
      rejected.catch(() => {}); // handled: it rejects before wait() gets to it
      const thenable = { then: (resolve: (v: string) => void) => setTimeout(() => resolve('thenable'), 1) };
      const all = [plain, frozen, proxied, thenable as unknown as PromiseLike<string>] as const;
      expect(all.map((p) => wait(p))).toEqual(['plain', 'frozen', 'proxied', 'thenable']);
      expect(() => wait(rejected)).toThrow(RangeError);
      for (const p of all) expect(parks(() => wait(p))).toBe(false);
      expect(parks(() => expect(() => wait(rejected)).toThrow('rejected later'))).toBe(false);
      expect(Object.isFrozen(frozen)).toBe(true);
      expect(Object.keys(plain)).toEqual([]);
      // iwait sees them ready too, at once and in the given order.
      expect(parks(() => expect([...iwait(all)]).toEqual([...all]))).toBe(false);
    });
  });

  it('waits for greenlets, Events, AsyncResults and any waitable', async () => {
    await inGreenlet(() => {
      expect(wait(spawn(() => (sleep(1), 'greenlet')))).toBe('greenlet');
      const failing = spawn(() => {
        throw new SyntaxError('greenlet failed');
      });
      expect(() => wait(failing)).toThrow(SyntaxError);
      const event = new Event();
      spawn(() => event.set());
      expect(wait(event)).toBe(true);
      const result = new AsyncResult<number>();
      setTimeout(() => result.set(7), 1);
      expect(wait(result)).toBe(7);
      const flag = new Flag();
      setTimeout(() => flag.set('flag'), 1);
      expect(wait(flag)).toBe('flag');
      expect(flag.linkCount).toBe(0);
    });
  });

  it('throws a Timeout when it is not ready in time, and unlinks', async () => {
    await inGreenlet(() => {
      expect(() => wait(delay(50, 'late'), { timeout: 1 })).toThrow(Timeout);
      const flag = new Flag();
      expect(() => wait(flag, { timeout: 1 })).toThrow(Timeout);
      expect(flag.linkCount).toBe(0);
    });
  });

  it('refuses what it cannot wait for', async () => {
    await inGreenlet(() => {
      expect(() => wait(42 as never)).toThrow(/Expected a Promise, thenable, Greenlet, Event or AsyncResult for object but received a number 42/);
    });
  });

  it('throws BlockingOnHubError in a loop callback outside any greenlet', async () => {
    const error = await new Promise((resolve) => setImmediate(() => { try { wait(Promise.resolve(1)); } catch (e) { resolve(e); } }));
    expect(error).toBeInstanceOf(BlockingOnHubError);
  });

  it('works at the top level of a CommonJS script, and LoopExit when nothing settles', () => {
    const result = runFixture('hub-wait.cjs');
    expect(result.stdout).toBe('42\nrejected: no\nLoopExit\n');
    expect(result.status).toBe(0);
  });
});

describe('iwait', () => {
  // gevent test__iwait.py Testiwait.test_noiter
  it('yields the first object to become ready', async () => {
    await inGreenlet(() => {
      const sem1 = new Semaphore(0);
      const sem2 = new Semaphore(0);
      spawn(() => sem1.release());
      const iterator = iwait([sem1, sem2] as never[]);
      expect(iterator.next().value).toBe(sem1);
      iterator.return(undefined);
    });
  });

  // gevent test__iwait.py Testiwait.test_iwait_nogarbage / test_iwait_partial
  it('unlinks from everything when the iteration stops early', async () => {
    await inGreenlet(() => {
      const a = new Flag();
      const b = new Flag();
      setTimeout(() => a.set('a'), 1);
      for (const ready of iwait([a, b])) {
        expect(ready).toBe(a);
        expect(b.linkCount).toBe(1);
        break;
      }
      expect(b.linkCount).toBe(0);
    });
  });

  it('yields objects as they become ready, ready ones first, up to count or timeout', async () => {
    await inGreenlet(() => {
      const p1 = delay(40, 'p1');
      const p2 = delay(5, 'p2');
      const done = spawn(() => 'done');
      done.join();
      const never = new Flag();
      expect([...iwait([p1, p2, done, never], { timeout: 200 })]).toEqual([done, p2, p1]);
      expect(wait(p1)).toBe('p1'); // settled promises are ready at once
      expect([...iwait([p1, p2, never], { count: 1 })]).toEqual([p1]);
      expect([...iwait([], {})]).toEqual([]);
    });
  });
});

describe('waitAll', () => {
  it('returns the objects that became ready, in that order', async () => {
    await inGreenlet(() => {
      const slow = spawn(() => sleep(40));
      const fast = spawn(() => sleep(1));
      expect(waitAll([slow, fast])).toEqual([fast, slow]);
      const never = new Flag();
      expect(waitAll([never, Promise.resolve(1)], { timeout: 5 })).toHaveLength(1);
    });
  });

  it('without objects, waits until every other greenlet has finished', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      spawn(() => (sleep(40), log.push('a')));
      spawn(() => (sleep(1), log.push('b')));
      waitAll();
      log.push('all done');
    });
    expect(log).toEqual(['b', 'a', 'all done']);
  });
});

describe('blocking', () => {
  it('turns an async function into a blocking one with the same arguments and this', async () => {
    const add = blocking(async (a: number, b: number) => {
      await delay(1, undefined);
      return a + b;
    });
    const fail = blocking(async () => {
      throw new TypeError('async failure');
    });
    const object = { base: 10, plus: blocking(async function (this: { base: number }, n: number) { return this.base + n; }) };
    await inGreenlet(() => {
      expect(add(2, 3)).toBe(5);
      expect(() => fail()).toThrow(TypeError);
      expect(object.plus(1)).toBe(11);
    });
    expect(add.name).toBe('blocking');
  });
});
