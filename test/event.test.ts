// Event and AsyncResult: gevent.event semantics, and the waitable protocol through wait/waitAll/iwait.
import { afterEach, describe, expect, it } from 'vitest';
import { AsyncResult, Event, Fiber, fiberStats, getCurrent, hub, iwait, sleep, spawn, spawnLater, Timeout, wait, waitAll, withTimeout } from '../dist/entries/index.js';

const green = <T>(fn: () => T) => (): Promise<T> => spawn(fn).promise();

afterEach(async () => {
  for (let i = 0; i < 100 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started).toBe(0);
});

class MyError extends Error {}

describe('Event', () => {
  it('wakes every waiter on set(), and stays set until clear()', green(() => {
    const event = new Event();
    const waiters = [0, 1, 2].map(() => spawn(() => event.wait()));
    sleep(0);
    expect(event.isSet()).toBe(false);
    expect(event.linkCount()).toBe(3);
    event.set();
    expect(event.isSet()).toBe(true);
    expect(waiters.map((waiter) => waiter.get())).toEqual([true, true, true]);
    expect(event.wait()).toBe(true);
    event.clear();
    expect(event.isSet()).toBe(false);
    expect(event.wait(1)).toBe(false);
  }));

  // gevent test__event.py TestEvent_SetThenClear100
  it('wakes waiters that were parked when set() ran even if clear() follows at once', green(() => {
    const event = new Event();
    const waiters = Array.from({ length: 100 }, () => spawn(() => event.wait()));
    sleep(0);
    event.set();
    event.clear();
    expect(waiters.map((waiter) => waiter.get())).toEqual(Array(100).fill(true));
  }));

  // gevent test__event.py TestEventBasics.test_wait_while_notifying
  it('makes a wait() that finds it set while waiters are being woken queue behind them', green(() => {
    const event = new Event();
    const results: number[] = [];
    const waitThenAppend = (n: number): void => {
      event.wait();
      results.push(n);
    };
    spawn(waitThenAppend, 1);
    spawn(waitThenAppend, 2);
    sleep(0);
    expect(event.linkCount()).toBe(2);
    event.set();
    waitThenAppend(3);
    expect(results).toEqual([1, 2, 3]);
  }));

  // gevent test__event.py TestGeventWaitOnEvent.test_set_during_wait
  it('is not reported by waitAll() after it was cleared', green(() => {
    const event = new Event();
    const waiter = spawn(() => {
      const setter = spawn(() => event.set());
      expect(event.wait()).toBe(true);
      setter.join();
      event.clear();
      expect(waitAll([event], { timeout: 10 })).toEqual([]);
      expect(event.isSet()).toBe(false);
    });
    waiter.get();
  }));

  // gevent test__event.py TestEventBasics.test_gevent_wait_twice_when_already_set
  it('is returned by waitAll() every time while set', green(() => {
    const event = new Event();
    event.set();
    expect(waitAll([event])).toEqual([event]);
    expect(waitAll([event])).toEqual([event]);
    expect(wait(event)).toBe(true);
  }));

  it('is set from a hub callback and wakes a parked greenlet', green(() => {
    const event = new Event();
    const waiter = spawn(() => event.wait(1000));
    sleep(0);
    hub.runCallback(() => event.set());
    expect(waiter.get()).toBe(true);
  }));
});

describe('AsyncResult', () => {
  it('holds a value for every waiter, now and later', green(() => {
    const result = new AsyncResult<number>();
    expect(result.ready()).toBe(false);
    expect(result.value).toBeUndefined();
    const waiters = [0, 1].map(() => spawn(() => result.get()));
    spawnLater(1, () => result.set(42));
    expect(waiters.map((waiter) => waiter.get())).toEqual([42, 42]);
    expect(result.get()).toBe(42);
    expect(result.wait()).toBe(42);
    expect(result.successful()).toBe(true);
    expect(result.value).toBe(42);
    expect(result.exception).toBeUndefined();
  }));

  // gevent test__event.py TestAsyncResult.test_set_exc
  it('raises the exception it was given in every get(), and wait() returns undefined', green(() => {
    const result = new AsyncResult();
    const log: unknown[] = [];
    const error = new MyError('boom');
    const waiter = spawn(() => {
      try {
        result.get();
      } catch (caught) {
        log.push(['caught', caught]);
      }
    });
    sleep(0);
    result.setException(error);
    waiter.join();
    expect(log).toEqual([['caught', error]]);
    expect(() => result.get()).toThrow(error);
    expect(result.wait()).toBeUndefined();
    expect(result.ready()).toBe(true);
    expect(result.successful()).toBe(false);
    expect(result.exception).toBe(error);
  }));

  // gevent test__event.py TestAsyncResult.test_set
  it('lets an outer Timeout interrupt get()', green(() => {
    const result = new AsyncResult();
    const timerError = new MyError('interrupted');
    const setter = spawnLater(50, () => result.set('hello'));
    const timer = Timeout.start(0, timerError);
    try {
      expect(() => result.get()).toThrow(timerError);
    } finally {
      timer.cancel();
      setter.kill();
    }
  }));

  // gevent test__event.py TestAsyncResult.test_set_with_timeout
  it('times out in get() with a Timeout', green(() => {
    const result = new AsyncResult();
    const marker = {};
    expect(withTimeout(5, () => result.get(), { default: marker })).toBe(marker);
    expect(() => result.get({ timeout: 1 })).toThrow(Timeout);
    expect(result.wait(1)).toBeUndefined();
    expect(result.linkCount()).toBe(0);
  }));

  // gevent test__event.py TestAsyncResult.test_nonblocking_get
  it('throws a Timeout from a non-blocking get() when not ready', green(() => {
    const result = new AsyncResult();
    expect(() => result.get({ block: false })).toThrow(Timeout);
    expect(() => result.getNowait()).toThrow(Timeout);
  }));

  it('is a waitable: wait() returns its value or throws its error', green(() => {
    const ok = new AsyncResult<string>();
    const failed = new AsyncResult();
    setTimeout(() => ok.set('fine'), 1);
    expect(wait(ok)).toBe('fine');
    const error = new MyError('no');
    setTimeout(() => failed.setException(error), 1);
    expect(() => wait(failed)).toThrow(error);
  }));

  // gevent test__event.py TestWait_count2
  it('is yielded by iwait() in the order results arrive', green(() => {
    const results = [new AsyncResult(), new AsyncResult(), new AsyncResult()];
    const events = [new Event(), new Event()];
    spawn(() => {
      results[2].set(2);
      sleep(1);
      events[1].set();
      sleep(1);
      results[0].set(0);
    });
    const seen = [...iwait<AsyncResult | Event>([...results, ...events], { count: 3 })];
    expect(seen).toEqual([results[2], events[1], results[0]]);
    expect(waitAll([...results, ...events], { timeout: 5 })).toHaveLength(3);
  }));

  it('accepts set() from async code', green(() => {
    const result = new AsyncResult<number>();
    void Promise.resolve().then(() => result.set(7));
    expect(result.get({ timeout: 1000 })).toBe(7);
  }));
});

describe('rawlink, link and unlink (Event and AsyncResult)', () => {
  it.each([
    ['Event', () => new Event(), (e: Event | AsyncResult<number>) => (e as Event).set()],
    ['AsyncResult', () => new AsyncResult<number>(), (r: Event | AsyncResult<number>) => (r as AsyncResult<number>).set(7)],
  ] as const)('%s: callbacks get the object once set, in order, once each; rawlink on the hub, link in a fiber', async (_name, make, setIt) => {
    const log: unknown[] = [];
    const object = make();
    object.rawlink((source) => log.push(['raw', source === object, spawnedFiber()]));
    object.link((source) => {
      sleep(1); // may block: it runs in a fiber of its own
      log.push(['link', source === object, spawnedFiber()]);
    });
    const removed = (): number => log.push('unlinked?!');
    object.rawlink(removed);
    object.unlink(removed);
    expect(object.linkCount()).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 2));
    expect(log).toEqual([]);
    setIt(object);
    setIt(object); // a second set calls nothing again: links are called once
    for (let i = 0; i < 100 && log.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(log).toEqual([
      ['raw', true, false],
      ['link', true, true],
    ]);
    // Linked once already set: called soon, on the hub's next turn, not synchronously.
    object.rawlink(() => log.push('late'));
    expect(log).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 2));
    expect(log[2]).toBe('late');
  });

  it('unlink after set() but before the callback ran still cancels it; errors in callbacks are reported', async () => {
    const reports: unknown[] = [];
    hub.onError = (_greenlet, error) => reports.push((error as Error).message);
    try {
      const event = new Event();
      const log: string[] = [];
      const cancelled = (): number => log.push('cancelled?!');
      event.rawlink(cancelled);
      event.rawlink(() => {
        throw new MyError('raw failed');
      });
      event.link(() => {
        throw new MyError('link failed');
      });
      event.set();
      event.unlink(cancelled);
      for (let i = 0; i < 100 && reports.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 2));
      expect(log).toEqual([]);
      expect(reports).toEqual(['raw failed', 'link failed']);
    } finally {
      hub.onError = undefined;
    }
  });

  it('rejects a non-function callback naming it', () => {
    expect(() => new Event().rawlink(5 as never)).toThrow(/callback/);
    expect(() => new AsyncResult().link(null as never)).toThrow(TypeError);
  });
});

function spawnedFiber(): boolean {
  return getCurrent() !== Fiber.main;
}
