// Queues: gevent.queue semantics (ported from test__queue.py), orders, joinable tasks, shutdown and
// iteration, calls from the hub.
import { afterEach, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  Channel,
  fiberStats,
  GreenfiberError,
  hub,
  JoinableQueue,
  joinAll,
  LifoQueue,
  OverReleaseError,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  sleep,
  spawn,
  Timeout,
} from '../dist/entries/index.js';
import { captureReports } from './greenlet-helpers';

const green = <T>(fn: () => T) => (): Promise<T> => spawn(fn).promise();

// Greenlets woken by shutdown() fail with QueueShutDown on purpose: reported here, not to stderr.
const reports = captureReports((error) => error instanceof QueueShutDown);

afterEach(async () => {
  for (let i = 0; i < 100 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started).toBe(0);
});

/** Runs `fn()` in a hub callback and returns what it returned or threw. */
function onHub(fn: () => unknown): AsyncResult<unknown> {
  const result = new AsyncResult<unknown>();
  hub.runCallback(() => {
    try {
      result.set(fn());
    } catch (error) {
      result.set(error);
    }
  });
  return result;
}

describe.each([
  ['Queue', (n?: number) => new Queue(n)],
  ['LifoQueue', (n?: number) => new LifoQueue(n)],
  ['PriorityQueue', (n?: number) => new PriorityQueue(n)],
  ['JoinableQueue', (n?: number) => new JoinableQueue(n)],
])('%s', (_name, make) => {
  // gevent test__queue.py UsesOnlyOneItemMixin.test_put_nowait_simple
  it('accepts putNowait() from the hub until full', green(() => {
    const queue = make(1);
    const first = onHub(() => queue.putNowait(2));
    const second = onHub(() => queue.putNowait(3));
    expect(first.get()).toBeUndefined();
    expect(second.get()).toBeInstanceOf(QueueFull);
    expect(queue.qsize()).toBe(1);
  }));

  // gevent test__queue.py UsesOnlyOneItemMixin.test_put_nowait_unlock
  it('wakes a parked getter from putNowait() on the hub', green(() => {
    const queue = make();
    const getter = spawn(() => queue.get());
    sleep(0);
    expect(queue.empty()).toBe(true);
    expect(queue.full()).toBe(false);
    expect(onHub(() => queue.putNowait(10)).get()).toBeUndefined();
    expect(getter.get()).toBe(10);
    expect(queue.empty()).toBe(true);
  }));

  // gevent test__queue.py TestSimpleQueue.test_get_nowait_simple
  it('serves getNowait() from the hub, then QueueEmpty', green(() => {
    const queue = make(1);
    queue.put(4);
    const first = onHub(() => queue.getNowait());
    const second = onHub(() => queue.getNowait());
    expect(first.get()).toBe(4);
    expect(second.get()).toBeInstanceOf(QueueEmpty);
  }));

  // gevent test__queue.py TestSimpleQueue.test_get_nowait_unlock
  it('lets a parked putter in when getNowait() on the hub makes room', green(() => {
    const queue = make(1);
    queue.put(5);
    const putter = spawn(() => queue.put(6));
    sleep(0);
    expect(queue.full()).toBe(true);
    expect(onHub(() => queue.getNowait()).get()).toBe(5);
    putter.join();
    expect(putter.dead).toBe(true);
    expect(queue.getNowait()).toBe(6);
  }));

  // gevent test__queue.py TestSimpleQueue.test_send_first / test_peek_multi_greenlet
  it('peeks without removing, blocking until an item comes', green(() => {
    const queue = make();
    const peeker = spawn(() => queue.peek());
    sleep(0);
    queue.put(1);
    expect(peeker.get()).toBe(1);
    expect(queue.peek()).toBe(1);
    expect(queue.get()).toBe(1);
    expect(() => queue.peekNowait()).toThrow(QueueEmpty);
    // gevent test__queue.py TestSimpleQueue.test_peek_empty
    expect(() => queue.peek({ timeout: 1 })).toThrow(QueueEmpty);
  }));

  // gevent test__queue.py TestSimpleQueue.test_max_size
  it('blocks put() while full and resumes it as room is made', green(() => {
    const queue = make(2);
    const results: string[] = [];
    const putter = spawn(() => {
      for (const item of ['a', 'b', 'c']) {
        queue.put(item);
        results.push(item);
      }
      return 'OK';
    });
    sleep(0);
    expect(results).toEqual(['a', 'b']);
    queue.get();
    sleep(0);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(queue.qsize()).toBe(2);
    expect(putter.get({ timeout: 0 })).toBe('OK');
  }));

  // gevent test__queue.py TestSimpleQueue.test_multiple_waiters
  it('gives each of several waiting getters one item', green(() => {
    const queue = make();
    const results = [0, 1, 2, 3].map(() => new AsyncResult());
    for (const result of results) spawn(() => result.set(queue.get()));
    sleep(0);
    queue.put(1);
    queue.put(2);
    queue.put(3);
    queue.put(4);
    expect(results.map((result) => result.get()).sort()).toEqual([1, 2, 3, 4]);
  }));

  // gevent test__queue.py TestSimpleQueue.test_waiters_that_cancel / test_two_bogus_waiters
  it('keeps an item put after its getters gave up', green(() => {
    const queue = make();
    const doReceive = (): unknown => {
      const timer = Timeout.start(0, new Error('gave up'));
      try {
        return queue.get();
      } catch (error) {
        return (error as Error).message;
      } finally {
        timer.cancel();
      }
    };
    const first = spawn(doReceive);
    const second = spawn(doReceive);
    expect(first.get()).toBe('gave up');
    expect(second.get()).toBe('gave up');
    queue.put('sent');
    expect(queue.get()).toBe('sent');
  }));

  // gevent test__queue.py TestGetInterrupt / TestPutInterrupt (AbstractGenericGetTestCase)
  it('raises QueueEmpty / QueueFull when its own timeout expires, and lets an outer Timeout through', green(() => {
    const queue = make(1);
    expect(() => queue.get({ timeout: 1 })).toThrow(QueueEmpty);
    queue.put(1);
    expect(() => queue.put(2, { timeout: 1 })).toThrow(QueueFull);
    expect(() => queue.put(2, { block: false })).toThrow(QueueFull);
    const outer = Timeout.start(1);
    try {
      queue.put(2, { timeout: 10_000 });
    } catch (error) {
      expect(error).toBe(outer);
    } finally {
      outer.cancel();
    }
    expect(queue.balance).toBe(0);
    expect(new QueueFull().code).toBe('GF_ERR_QUEUE_FULL');
    expect(new QueueEmpty()).toBeInstanceOf(GreenfiberError);
  }));

  // gevent test__queue.py TestQueue.test_task_done / test_issue_45
  it('tracks unfinished tasks for join()', green(() => {
    const queue = make();
    expect(queue.join()).toBe(true);
    queue.put(1);
    queue.put(2);
    expect(queue.unfinishedTasks).toBe(2);
    const joiner = spawn(() => queue.join());
    queue.get();
    queue.taskDone();
    sleep(0);
    expect(joiner.ready()).toBe(false);
    expect(queue.join(1)).toBe(false);
    queue.get();
    queue.taskDone();
    expect(joiner.get()).toBe(true);
    expect(() => queue.taskDone()).toThrow(OverReleaseError);
  }));

  // gevent test__queue.py TestQueue._shutdown_all_methods_in_one_thread(immediate=False)
  it('drains, then refuses, after shutdown()', green(() => {
    const queue = make();
    queue.put('L');
    queue.putNowait('O');
    queue.shutdown();
    expect(() => queue.put('E')).toThrow(QueueShutDown);
    expect(() => queue.putNowait('W')).toThrow(QueueShutDown);
    expect(['L', 'O']).toContain(queue.get());
    queue.taskDone();
    expect(['L', 'O']).toContain(queue.get());
    queue.taskDone();
    expect(queue.join()).toBe(true);
    expect(() => queue.get()).toThrow(QueueShutDown);
    expect(() => queue.getNowait()).toThrow(QueueShutDown);
    expect(() => queue.get({ timeout: 1000 })).toThrow(QueueShutDown);
  }));

  // gevent test__queue.py TestQueue._shutdown_all_methods_in_one_thread(immediate=True)
  it('drops what is left after shutdown(true)', green(() => {
    const queue = make();
    queue.put('L');
    queue.put('O');
    queue.shutdown(true);
    expect(() => queue.get()).toThrow(QueueShutDown);
    expect(() => queue.getNowait()).toThrow(QueueShutDown);
    expect(() => queue.taskDone()).toThrow(OverReleaseError);
    expect(queue.join()).toBe(true);
    expect(queue.isShutDown).toBe(true);
  }));

  it('wakes greenlets parked in get() and put() with QueueShutDown on shutdown()', green(() => {
    const empty = make();
    const full = make(1);
    full.put(1);
    const getter = spawn(() => empty.get());
    const putter = spawn(() => full.put(2));
    sleep(0);
    empty.shutdown();
    full.shutdown();
    joinAll([getter, putter]);
    expect(getter.exception).toBeInstanceOf(QueueShutDown);
    expect(putter.exception).toBeInstanceOf(QueueShutDown);
    expect(reports.map(([greenlet]) => greenlet).sort()).toEqual([getter, putter].sort());
    expect(full.get()).toBe(1);
  }));

  it('ends iteration when shut down and drained', green(() => {
    const queue = make();
    const producer = spawn(() => {
      for (let i = 1; i <= 3; i++) {
        queue.put(i);
        sleep(0);
      }
      queue.shutdown();
    });
    const seen: number[] = [];
    for (const item of queue) seen.push(item as number);
    producer.join();
    expect(seen.sort()).toEqual([1, 2, 3]);
  }));
});

describe('orders', () => {
  it('Queue is FIFO, LifoQueue LIFO', green(() => {
    const fifo = new Queue<number>();
    const lifo = new LifoQueue<number>();
    for (const n of [1, 2, 3]) {
      fifo.put(n);
      lifo.put(n);
    }
    expect([fifo.get(), fifo.get(), fifo.get()]).toEqual([1, 2, 3]);
    expect(lifo.peek()).toBe(3);
    expect([lifo.get(), lifo.get(), lifo.get()]).toEqual([3, 2, 1]);
  }));

  it('PriorityQueue orders numbers, strings and [priority, data] pairs naturally', green(() => {
    const numbers = new PriorityQueue<number>();
    for (const n of [5, 1, 4, 2, 3, 0, 10, -1]) numbers.put(n);
    expect(Array.from({ length: 8 }, () => numbers.get())).toEqual([-1, 0, 1, 2, 3, 4, 5, 10]);
    const strings = new PriorityQueue<string>();
    for (const s of ['pear', 'apple', 'fig']) strings.put(s);
    expect([strings.get(), strings.get(), strings.get()]).toEqual(['apple', 'fig', 'pear']);
    const pairs = new PriorityQueue<[number, string]>();
    pairs.put([2, 'b']);
    pairs.put([1, 'z']);
    pairs.put([1, 'a']);
    expect([pairs.get(), pairs.get(), pairs.get()]).toEqual([[1, 'a'], [1, 'z'], [2, 'b']]);
    const mixed = new PriorityQueue<unknown>();
    mixed.put({});
    expect(() => mixed.put({})).toThrow(TypeError);
  }));

  it('PriorityQueue takes a comparator', green(() => {
    const queue = new PriorityQueue<{ at: number }>({ comparator: (a, b) => b.at - a.at, maxsize: 3 });
    for (const at of [1, 3, 2]) queue.put({ at });
    expect(queue.full()).toBe(true);
    expect([queue.get().at, queue.get().at, queue.get().at]).toEqual([3, 2, 1]);
    const sized = new PriorityQueue<number>(2, { comparator: (a, b) => a - b });
    expect(sized.maxsize).toBe(2);
  }));

  it('treats a maxsize of 0 or less as unbounded and rejects a non-number', () => {
    expect(new Queue(0).maxsize).toBe(Infinity);
    expect(new Queue().maxsize).toBe(Infinity);
    expect(() => new Queue('3' as unknown as number)).toThrow(TypeError);
    expect(() => new PriorityQueue(undefined, { comparator: 3 as never })).toThrow(TypeError);
  });
});

describe('Channel', () => {
  // gevent test__queue.py TestChannel.test_put_nowait_simple
  it('refuses putNowait() without a getter', green(() => {
    const channel = new Channel();
    expect(onHub(() => channel.putNowait(2)).get()).toBeInstanceOf(QueueFull);
    expect(channel.qsize()).toBe(0);
    expect(channel.empty()).toBe(true);
    expect(channel.full()).toBe(true);
    expect(channel.maxsize).toBe(0);
  }));

  // gevent test__queue.py TestChannel.test_get_nowait_unlock_channel
  it('hands a parked putter\'s item to getNowait() on the hub', green(() => {
    const channel = new Channel();
    const putter = spawn(() => channel.put(5));
    sleep(0);
    expect(onHub(() => channel.getNowait()).get()).toBe(5);
    putter.join();
    expect(putter.dead).toBe(true);
  }));

  // gevent test__queue.py TestChannel.test_zero_max_size
  it('makes put() wait for a getter', green(() => {
    const channel = new Channel();
    const sent = new AsyncResult();
    const received = new AsyncResult();
    const sender = spawn(() => {
      channel.put('hi');
      sent.set('done');
    });
    sleep(0);
    expect(sent.ready()).toBe(false);
    const receiver = spawn(() => received.set(channel.get()));
    expect(received.get()).toBe('hi');
    expect(sent.get()).toBe('done');
    joinAll([sender, receiver]);
  }));

  // gevent test__queue.py TestChannel.test_send
  it('lets the getter run before the putter returns', green(() => {
    const channel = new Channel<string>();
    const events: string[] = [];
    const other = spawn(() => {
      events.push(channel.get());
      events.push(channel.get());
    });
    events.push('sending');
    channel.put('hello');
    events.push('sent hello');
    channel.put('world');
    events.push('sent world');
    expect(events).toEqual(['sending', 'hello', 'sent hello', 'world', 'sent world']);
    other.get();
  }));

  // gevent test__queue.py TestChannel.test_wait
  it('resumes the getter first when it was waiting', green(() => {
    const channel = new Channel<string>();
    const events: string[] = [];
    const other = spawn(() => {
      events.push('sending hello');
      channel.put('hello');
      events.push('sending world');
      channel.put('world');
      events.push('sent world');
    });
    events.push('waiting');
    events.push(channel.get());
    events.push(channel.get());
    expect(events).toEqual(['waiting', 'sending hello', 'hello', 'sending world', 'world']);
    sleep(0);
    expect(events).toEqual(['waiting', 'sending hello', 'hello', 'sending world', 'world', 'sent world']);
    other.get();
  }));

  // gevent test__queue.py TestChannel.test_iterable (gevent ends on a StopIteration item; we on shutdown())
  it('ends iteration on shutdown()', green(() => {
    const channel = new Channel<number>();
    spawn(() => {
      channel.put(1);
      channel.put(2);
      channel.shutdown();
    });
    expect([...channel]).toEqual([1, 2]);
  }));
});

// The direct hand-off (README, Synchronisation and pools): where greenfiber differs from gevent on
// purpose. gevent 22.10 prints qsize 1 here and lets the newcomer take 'a'.
describe('direct hand-off, as documented against gevent', () => {
  it('put() to a parked getter: qsize() stays 0 and a newcomer cannot take the item', green(() => {
    const queue = new Queue<string>();
    const getter = spawn(() => queue.get());
    sleep(0); // the getter parks
    queue.put('a');
    expect(queue.qsize()).toBe(0);
    expect(() => queue.getNowait()).toThrow(QueueEmpty);
    expect(getter.get()).toBe('a');
  }));

  it('get() from a full queue takes the parked putter\'s item in at once', green(() => {
    const queue = new Queue<number>(1);
    queue.put(1);
    const putter = spawn(() => queue.put(2));
    sleep(0); // the putter parks: the queue is full
    expect(queue.get()).toBe(1);
    expect(queue.qsize()).toBe(1); // 2 is in already, before the putter runs again
    expect(putter.ready()).toBe(false);
    expect(queue.get()).toBe(2);
    putter.join();
  }));
});
