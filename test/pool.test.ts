// Group and Pool: gevent.pool semantics (ported from test__pool.py): capped spawn, map/imap order,
// errors at the caller, join/kill, free slots.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Event, fiberStats, GreenletExit, Group, hub, Pool, Queue, QueueShutDown, sleep, spawn, spawnLater, Timeout, withTimeout } from '../dist/entries/index.js';
import { captureReports } from './greenlet-helpers';

const green = <T>(fn: () => T) => (): Promise<T> => spawn(fn).promise();

afterEach(async () => {
  for (let i = 0; i < 100 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started).toBe(0);
});

class ExpectedError extends Error {}

// The greenlets these tests make fail on purpose are reported to this list, not to stderr.
captureReports((error) => error instanceof ExpectedError || error instanceof QueueShutDown);

function divideBy(x: number): number {
  if (x === 0) throw new ExpectedError('division by zero');
  return 1 / x;
}

describe('Pool', () => {
  // gevent test__pool.py TestCoroutinePool.test_apply / test_apply_raises / PoolBasicTests.test_apply
  it('apply() returns the result or rethrows the error', green(() => {
    const pool = new Pool(2);
    expect(pool.apply(() => 'return value')).toBe('return value');
    expect(pool.apply((a: number) => ['foo', a], [1])).toEqual(['foo', 1]);
    expect(() => new Pool(1).apply(() => {
      throw new ExpectedError();
    })).toThrow(ExpectedError);
  }));

  // gevent test__pool.py TestCoroutinePool.test_reentrant
  it('apply() from one of its own greenlets runs directly, so a full pool does not deadlock', green(() => {
    const pool = new Pool(1);
    expect(pool.apply(pool.apply.bind(pool), [(a: number) => a + 1, [5]])).toBe(6);
  }));

  // gevent test__pool.py TestCoroutinePool.test_multiple_coros
  it('runs its greenlets concurrently', green(() => {
    const event = new Event();
    const results: string[] = [];
    const pool = new Pool(2);
    const done = pool.spawn(() => {
      results.push('cons1');
      event.wait();
      results.push('cons2');
    });
    pool.spawn(() => {
      sleep(1);
      results.push('prod');
      event.set();
    });
    done.get();
    expect(results).toEqual(['cons1', 'prod', 'cons2']);
  }));

  // gevent test__pool.py PoolBasicTests.test_execute_async / TestSpawn.test
  it('counts free slots and blocks spawn() while full', green(() => {
    const pool = new Pool(2);
    expect(pool.size).toBe(2);
    expect(pool.freeCount()).toBe(2);
    const log: string[] = [];
    const first = pool.spawn(() => log.push('first'));
    expect(pool.freeCount()).toBe(1);
    expect(pool.length).toBe(1);
    first.get();
    sleep(0);
    expect(pool.freeCount()).toBe(2);
    expect(pool.length).toBe(0);
    const a = pool.spawn(() => sleep(5));
    const b = pool.spawn(() => sleep(100_000));
    expect(pool.full()).toBe(true);
    pool.spawn(() => log.push('third')); // blocks until a slot is free
    expect(a.dead).toBe(true);
    expect(b.dead).toBe(false);
    expect(pool.length).toBe(2);
    b.kill();
    pool.join();
    expect(log).toEqual(['first', 'third']);
  }));

  // gevent test__pool.py PoolBasicTests.test_discard
  it('discard() stops tracking a greenlet and frees its slot', green(() => {
    const pool = new Pool(1);
    const first = pool.spawn(() => sleep(100_000));
    pool.discard(first);
    first.kill();
    expect(pool.length).toBe(0);
    expect(pool.freeCount()).toBe(1);
    expect(pool.has(first)).toBe(false);
  }));

  // gevent test__pool.py PoolBasicTests.test_add_method
  it('add() blocks while full', green(() => {
    const pool = new Pool(1);
    const first = spawn(() => sleep(100_000));
    const second = spawn(() => sleep(100_000));
    try {
      pool.add(first);
      expect(pool.freeCount()).toBe(0);
      expect(pool.length).toBe(1);
      const timer = Timeout.start(5);
      try {
        expect(() => pool.add(second)).toThrow(Timeout);
      } finally {
        timer.cancel();
      }
      expect(pool.length).toBe(1);
      expect(pool.freeCount()).toBe(0);
      expect([...pool]).toEqual([first]);
    } finally {
      second.kill();
      first.kill();
    }
    sleep(0);
    expect(pool.freeCount()).toBe(1);
  }));

  // gevent test__pool.py PoolBasicTests.test_init_error
  it('rejects a negative size', () => {
    expect(() => new Pool(-1)).toThrow(RangeError);
  });

  // gevent test__pool.py TestPool0.test_wait_full
  it('of size 0 is always full', green(() => {
    const pool = new Pool(0);
    expect(pool.freeCount()).toBe(0);
    expect(pool.full()).toBe(true);
    expect(pool.waitAvailable(1)).toBe(0);
  }));

  it('waitAvailable() returns once a slot is free', green(() => {
    const pool = new Pool(1);
    pool.spawn(() => sleep(2));
    expect(pool.waitAvailable()).toBe(1);
    expect(pool.waitAvailable(1)).toBe(1);
  }));

  // gevent test__pool.py TestJoinEmpty / TestSpawn.testSpawnAndWait / TestJoinSleep
  it('join() reports whether it became empty in time', green(() => {
    const pool = new Pool(1);
    expect(pool.join()).toBe(true);
    pool.spawn(() => sleep(20));
    expect(pool.join(1)).toBe(false);
    expect(pool.join()).toBe(true);
    expect(pool.length).toBe(0);
    const failing = pool.spawn(() => {
      throw new ExpectedError('in the pool');
    });
    expect(() => pool.join(undefined, { raiseError: true })).toThrow(ExpectedError);
    expect(failing.dead).toBe(true);
  }));

  // gevent test__pool.py TestPool.test_terminate
  it('kill() kills every greenlet and waits for them', green(() => {
    const pool = new Pool(3);
    const greenlets = [0, 1, 2].map(() => pool.spawn(() => sleep(100_000)));
    sleep(0);
    pool.kill();
    expect(greenlets.every((greenlet) => greenlet.dead)).toBe(true);
    expect(pool.length).toBe(0);
    expect(pool.freeCount()).toBe(3);
    expect(pool.map((x: number) => x * 2, [1, 2])).toEqual([2, 4]); // still usable
  }));

  it('kill({ block: false }) returns at once', green(() => {
    const pool = new Pool(2);
    const greenlet = pool.spawn(() => sleep(100_000));
    sleep(0);
    pool.kill(undefined, { block: false });
    expect(greenlet.dead).toBe(false);
    greenlet.join();
    expect(pool.length).toBe(0);
  }));
});

describe.each([
  ['Pool(1)', () => new Pool(1)],
  ['Pool(3)', () => new Pool(3)],
  ['Pool()', () => new Pool()],
  ['Group', () => new Group()],
])('%s mapping', (_name, make) => {
  // gevent test__pool.py TestPool.test_map / test_empty_map
  it('map() keeps input order', green(() => {
    const pool = make();
    const delays = [5, 1, 3, 0, 2];
    expect(pool.map((ms: number) => {
      sleep(ms);
      return ms * 10;
    }, delays)).toEqual([50, 10, 30, 0, 20]);
    expect(pool.map((x: number) => x, [])).toEqual([]);
  }));

  // gevent test__pool.py TestPool.test_imap_it_small / test_imap_random
  it('imap() yields in input order', green(() => {
    const pool = make();
    const delays = [3, 0, 2, 1];
    expect([...pool.imap((ms: number) => {
      sleep(ms);
      return ms;
    }, delays)]).toEqual(delays);
    expect([...pool.imap((x: number) => x, [])]).toEqual([]);
  }));

  // gevent test__pool.py TestPool.test_imap_unordered_sleep
  it('imapUnordered() yields in completion order', green(() => {
    const pool = make();
    const result = [...pool.imapUnordered((ms: number) => {
      sleep(ms);
      return String(ms);
    }, [30, 1, 10])];
    expect(result).toEqual(pool.size === 1 ? ['30', '1', '10'] : ['1', '10', '30']);
  }));

  // gevent test__pool.py TestErrorInHandler.test_map
  it('map() throws the error of a failed call, and stays usable', green(() => {
    const pool = make();
    expect(() => pool.map(divideBy, [1, 0, 2])).toThrow(ExpectedError);
    pool.join();
    expect(pool.map(divideBy, [1, 2])).toEqual([1, 0.5]);
  }));

  // gevent test__pool.py TestErrorInHandler.test_imap / test_imap_unordered (with Pool(1))
  it('imap() throws a failed call at its place and goes on', green(() => {
    const pool = make();
    const iterator = pool.imap(divideBy, [1, 0, 2]);
    expect(iterator.next()).toEqual({ value: 1, done: false });
    expect(() => iterator.next()).toThrow(ExpectedError);
    expect(iterator.next()).toEqual({ value: 0.5, done: false });
    expect(iterator.next().done).toBe(true);
    const unordered = pool.imapUnordered(divideBy, [0]);
    expect(() => unordered.next()).toThrow(ExpectedError);
    expect(unordered.next().done).toBe(true);
  }));

  // gevent test__pool.py TestErrorInIterator.test / test_unordered
  it('surfaces an error of the input iterable', green(() => {
    const pool = make();
    function* errorIter(): Generator<number> {
      yield 1;
      yield 2;
      throw new ExpectedError('from the iterable');
    }
    expect(() => pool.map(() => null, errorIter())).toThrow(ExpectedError);
    expect(() => [...pool.imapUnordered(() => null, errorIter())]).toThrow(ExpectedError);
    pool.join();
  }));

  // gevent test__pool.py TestPool.test_imap_no_stop (gevent issue #423)
  it('imap() over a queue ends when the queue is shut down', green(() => {
    const pool = make();
    const queue = new Queue<number>();
    queue.put(123);
    spawnLater(5, () => queue.shutdown());
    expect([...pool.imap((x: number) => x, queue)]).toEqual([123]);
    const again = new Queue<number>();
    again.put(1234);
    spawnLater(5, () => again.shutdown());
    expect([...pool.imapUnordered((x: number) => x, again)]).toEqual([1234]);
  }));

  // gevent test__pool.py TestPool.test_imap_final_sleep (gevent issue #311)
  it('imap() handles an iterable that blocks after its last item', green(() => {
    const pool = make();
    function* finalSleep(): Generator<number> {
      for (let i = 0; i < 3; i++) yield i;
      sleep(10);
    }
    expect([...pool.imap((x: number) => x * x, finalSleep())]).toEqual([0, 1, 4]);
    expect([...pool.imapUnordered((x: number) => x * x, finalSleep())].sort()).toEqual([0, 1, 4]);
  }));

  // gevent test__pool.py TestPool.test_imap_unordered_bounded_queue (gevent issue #638)
  it('imap({ maxsize }) keeps at most that many results waiting for the reader', green(() => {
    const pool = make();
    const items = Array.from({ length: 30 }, (_, i) => i);
    for (const method of ['imapUnordered', 'imap'] as const) {
      let running = 0;
      const result: number[] = [];
      let i = 0;
      for (const x of pool[method]((n: number) => {
        running++;
        return n;
      }, items, { maxsize: 1 })) {
        expect(running).toBeLessThanOrEqual(i + 2);
        result.push(x);
        i++;
        sleep(0);
      }
      expect(result.sort((a, b) => a - b)).toEqual(items);
    }
  }));

  it.each(['imap', 'imapUnordered'] as const)('%s({ maxsize }) keeps its bound when next() is interrupted, and loses no result', (method) => green(() => {
    const pool = new Group();
    const release = new Event();
    let running = 0;
    let peak = 0;
    const items = Array.from({ length: 40 }, (_, i) => i);
    const it = pool[method]((n: number) => {
      running++;
      peak = Math.max(peak, running);
      release.wait();
      running--;
      return n;
    }, items, { maxsize: 2 });
    // 20 reads cut by a Timeout (each gives back a slot it never took) and 20 by kill().
    for (let i = 0; i < 20; i++) expect(withTimeout(1, () => it.next(), { default: 'cut' })).toBe('cut');
    for (let i = 0; i < 20; i++) {
      const reader = spawn(() => it.next());
      sleep(0);
      reader.kill();
      expect(reader.dead).toBe(true);
    }
    // A reader waiting may let one more call start (gevent's bound: maxsize + 1 while next() waits).
    expect(running).toBeLessThanOrEqual(3);
    release.set();
    const results = [...it];
    expect(peak).toBeLessThanOrEqual(3);
    expect(results.sort((a, b) => a - b)).toEqual(items);
  })());

  it('breaking out of imap() stops starting calls', green(() => {
    const pool = make();
    let started = 0;
    for (const x of pool.imap((n: number) => {
      started++;
      sleep(1);
      return n;
    }, Array.from({ length: 1000 }, (_, i) => i), { maxsize: 1 })) {
      if (x === 2) break;
    }
    pool.join();
    expect(started).toBeLessThan(20);
  }));
});

describe('Group', () => {
  it('tracks greenlets until they finish and never blocks', green(() => {
    const group = new Group();
    expect(group.size).toBe(Infinity);
    expect(group.freeCount()).toBe(Infinity);
    expect(group.full()).toBe(false);
    const greenlets = Array.from({ length: 10 }, (_, i) => group.spawn(() => {
      sleep(1);
      return i;
    }));
    expect(group.length).toBe(10);
    expect(group.has(greenlets[3])).toBe(true);
    expect(group.join()).toBe(true);
    expect(group.length).toBe(0);
    expect(greenlets.map((greenlet) => greenlet.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const outside = spawn(() => 'x');
    const adopted = new Group([outside]);
    expect(adopted.length).toBe(1);
    adopted.join();
    expect(adopted.length).toBe(0);
  }));
});

describe('applyAsync and mapAsync', () => {
  // The failing calls below are expected: keep their reports off stderr, but count them.
  let reports = 0;
  beforeEach(() => {
    reports = 0;
    hub.onError = () => {
      reports++;
    };
  });
  afterEach(() => {
    hub.onError = undefined;
  });

  // gevent test__pool.py TestPool.test_apply_async / test_map_async
  it('applyAsync never blocks, even when the pool is full, and returns an AsyncResult', green(() => {
    const pool = new Pool(1);
    const gate = new Event();
    const first = pool.applyAsync((x: number) => {
      gate.wait();
      return x * 2;
    }, [21]);
    expect(pool.full()).toBe(true);
    const seen: number[] = [];
    const second = pool.applyAsync((a: number, b: number) => a + b, [1, 2], (value) => seen.push(value));
    expect(first.ready()).toBe(false);
    expect(second.ready()).toBe(false);
    gate.set();
    expect(first.get()).toBe(42);
    expect(second.get()).toBe(3);
    pool.join();
    expect(seen).toEqual([3]); // the callback ran on success
  }));

  it('applyAsync from a loop callback, with a full pool, and join() waits for the waiting call', async () => {
    const pool = new Pool(1);
    const gate = new Event();
    pool.spawn(() => gate.wait());
    const result = pool.applyAsync(() => 'late'); // here: outside any greenlet
    setTimeout(() => gate.set(), 1);
    await spawn(() => {
      expect(pool.join()).toBe(true);
      expect(result.ready()).toBe(true);
      expect(result.get()).toBe('late');
    }).promise();
  });

  it('applyAsync: the error goes to the AsyncResult, the callback is not called', green(() => {
    const pool = new Pool(2);
    let called = false;
    const result = pool.applyAsync(divideBy, [0], () => {
      called = true;
    });
    expect(() => result.get()).toThrow(ExpectedError);
    pool.join();
    expect(called).toBe(false);
    expect(reports).toBe(1);
  }));

  it('kill() kills a call still waiting for room; its AsyncResult holds the kill', green(() => {
    const pool = new Pool(1);
    const gate = new Event();
    pool.spawn(() => gate.wait());
    let ran = false;
    const result = pool.applyAsync(() => {
      ran = true;
    });
    sleep(0);
    pool.kill();
    expect(result.ready()).toBe(true);
    expect(() => result.get()).toThrow(GreenletExit);
    expect(ran).toBe(false);
    expect(pool.length).toBe(0);
  }));

  it('mapAsync maps without blocking; results in input order, then the callback', green(() => {
    const pool = new Pool(2);
    let delivered: number[] | undefined;
    const result = pool.mapAsync((x: number) => {
      sleep(3 - x);
      return x * 10;
    }, [0, 1, 2], (values) => {
      delivered = values;
    });
    expect(result.ready()).toBe(false);
    expect(result.get()).toEqual([0, 10, 20]);
    pool.join();
    expect(delivered).toEqual([0, 10, 20]);
    const failed = new Group().mapAsync(divideBy, [1, 0, 2]);
    expect(() => failed.get()).toThrow(ExpectedError);
  }));

  it('reject bad arguments at the call, naming them', () => {
    const pool = new Pool(1);
    expect(() => pool.applyAsync(5 as never)).toThrow(/for fn but received a number 5/);
    expect(() => pool.applyAsync(() => 1, 5 as never)).toThrow(/for args but received a number 5/);
    expect(() => pool.applyAsync(() => 1, [], 'x' as never)).toThrow(/for callback/);
    expect(() => pool.mapAsync(() => 1, null as never)).toThrow(/for items but received null/);
    expect(pool.length).toBe(0);
  });
});
