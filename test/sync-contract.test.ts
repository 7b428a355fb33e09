// The wait/timeout contract every synchronisation primitive keeps, run over each of them: timeouts,
// wake-ups from loop callbacks and async code, killed and timed-out waiters, arrival order.
import { afterEach, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  BlockingOnHubError,
  BoundedSemaphore,
  Channel,
  Event,
  fiberStats,
  GreenletExit,
  JoinableQueue,
  LifoQueue,
  Lock,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  Semaphore,
  sleep,
  spawn,
  Timeout,
} from '../dist/entries/index.js';

/** One primitive seen through the contract: wait() normalises its own way of reporting a timeout. */
interface Subject {
  name: string;
  make(): any;
  /** Blocks until let through: true, or false if `timeout` expired. */
  wait(object: any, timeout?: number): boolean;
  /** Lets one waiter through (every waiter if `broadcast`). Must work from anywhere. */
  wake(object: any): void;
  /** How many greenlets are parked on it. */
  parked(object: any): number;
  broadcast: boolean;
  /**
   * A putter's grant is its item taken in: it stays delivered when the putter dies right after,
   * so that wake-up is used up (nothing is lost: the item is in).
   */
  grantSticks?: boolean;
}

function getter(name: string, make: () => any): Subject {
  let n = 0;
  return {
    name,
    make,
    wait(queue, timeout) {
      try {
        queue.get({ timeout });
        return true;
      } catch (error) {
        if (error instanceof QueueEmpty) return false;
        throw error;
      }
    },
    wake: (queue) => queue.put(++n, { block: false }),
    parked: (queue) => queue.balance,
    broadcast: false,
  };
}

function putter(name: string, make: () => any): Subject {
  return {
    name,
    make,
    wait(queue, timeout) {
      try {
        queue.put('x', { timeout });
        return true;
      } catch (error) {
        if (error instanceof QueueFull) return false;
        throw error;
      }
    },
    wake: (queue) => queue.getNowait(),
    parked: (queue) => 0 - queue.balance,
    broadcast: false,
    grantSticks: true,
  };
}

function acquirer(name: string, make: () => any): Subject {
  return {
    name,
    make,
    wait: (semaphore, timeout) => semaphore.acquire({ timeout }),
    wake: (semaphore) => semaphore.release(),
    parked: (semaphore) => semaphore.linkCount(),
    broadcast: false,
  };
}

const subjects: Subject[] = [
  {
    name: 'Event',
    make: () => new Event(),
    wait: (event, timeout) => event.wait(timeout),
    wake: (event) => event.set(),
    parked: (event) => event.linkCount(),
    broadcast: true,
  },
  {
    name: 'AsyncResult',
    make: () => new AsyncResult(),
    wait(result, timeout) {
      try {
        result.get({ timeout });
        return true;
      } catch (error) {
        if (error instanceof Timeout) return false;
        throw error;
      }
    },
    wake: (result) => result.set('value'),
    parked: (result) => result.linkCount(),
    broadcast: true,
  },
  acquirer('Semaphore', () => new Semaphore(0)),
  acquirer('BoundedSemaphore', () => {
    const semaphore = new BoundedSemaphore(1);
    semaphore.acquire();
    return semaphore;
  }),
  acquirer('Lock', () => {
    const lock = new Lock();
    lock.acquire();
    return lock;
  }),
  getter('Queue.get', () => new Queue()),
  getter('LifoQueue.get', () => new LifoQueue()),
  getter('PriorityQueue.get', () => new PriorityQueue()),
  getter('JoinableQueue.get', () => new JoinableQueue()),
  getter('Channel.get', () => new Channel()),
  putter('Queue.put', () => {
    const queue = new Queue(1);
    queue.put('full');
    return queue;
  }),
  putter('Channel.put', () => new Channel()),
];

/** Runs `fn` in a greenlet and gives the test its outcome. */
const green = <T>(fn: () => T) => (): Promise<T> => spawn(fn).promise();

/** Yields until `count` greenlets are parked on `object` (they park in the order they were spawned). */
function untilParked(subject: Subject, object: any, count: number): void {
  for (let turns = 0; subject.parked(object) < count; turns++) {
    if (turns > 1000) throw new Error(`only ${subject.parked(object)} of ${count} greenlets parked`);
    sleep(0);
  }
}

afterEach(async () => {
  for (let i = 0; i < 100 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started).toBe(0);
});

describe.each(subjects)('$name keeps the wait contract', (subject) => {
  it('reports an expired timeout as its contract says and leaves nothing parked', green(() => {
    const object = subject.make();
    expect(subject.wait(object, 5)).toBe(false);
    expect(subject.parked(object)).toBe(0);
  }));

  it('is woken from a plain loop callback', green(() => {
    const object = subject.make();
    const waiter = spawn(() => subject.wait(object));
    untilParked(subject, object, 1);
    setTimeout(() => subject.wake(object), 1);
    expect(waiter.get({ timeout: 5000 })).toBe(true);
  }));

  it('is woken from async code', green(() => {
    const object = subject.make();
    const waiter = spawn(() => subject.wait(object));
    untilParked(subject, object, 1);
    void (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      subject.wake(object);
    })();
    expect(waiter.get({ timeout: 5000 })).toBe(true);
  }));

  it('refuses to block in a plain loop callback, and stays usable', green(() => {
    const object = subject.make();
    const caught = new AsyncResult<unknown>();
    setTimeout(() => {
      try {
        subject.wait(object);
        caught.set('no error');
      } catch (error) {
        caught.set(error);
      }
    }, 1);
    expect(caught.get()).toBeInstanceOf(BlockingOnHubError);
    expect(subject.parked(object)).toBe(0);
    const waiter = spawn(() => subject.wait(object));
    untilParked(subject, object, 1);
    subject.wake(object);
    expect(waiter.get({ timeout: 5000 })).toBe(true);
  }));

  it('does not let a waiter killed while parked eat a wake-up', green(() => {
    const object = subject.make();
    const killed = spawn(() => subject.wait(object));
    const survivor = spawn(() => subject.wait(object));
    untilParked(subject, object, 2);
    killed.kill();
    expect(subject.parked(object)).toBe(1);
    subject.wake(object);
    expect(survivor.get({ timeout: 5000 })).toBe(true);
    expect(killed.successful()).toBe(true); // a GreenletExit ends it normally
    expect(subject.parked(object)).toBe(0);
  }));

  it('does not let a waiter that timed out eat a wake-up', green(() => {
    const object = subject.make();
    const impatient = spawn(() => subject.wait(object, 1));
    const patient = spawn(() => subject.wait(object));
    expect(impatient.get()).toBe(false);
    subject.wake(object);
    expect(patient.get({ timeout: 5000 })).toBe(true);
    expect(subject.parked(object)).toBe(0);
  }));

  it('passes a wake-up on when its waiter is killed between the grant and resuming', green(() => {
    const object = subject.make();
    const first = spawn(() => subject.wait(object));
    const second = spawn(() => subject.wait(object));
    untilParked(subject, object, 2);
    // The kill is queued on the hub before the wake-up is delivered: `first` is granted, then dies.
    const exit = new GreenletExit('killed after the grant');
    first.kill(exit, { block: false });
    subject.wake(object);
    if (subject.grantSticks) {
      first.join();
      expect(first.value).toBe(exit);
      subject.wake(object); // takes the dead putter's item; the next wake-up goes to `second`
    }
    expect(second.get({ timeout: 5000 })).toBe(true);
    expect(first.value).toBe(exit);
    expect(subject.parked(object)).toBe(0);
  }));

  it('serves waiters in arrival order', green(() => {
    const object = subject.make();
    const order: number[] = [];
    const waiters = [1, 2, 3, 4].map((id) => spawn(() => {
      subject.wait(object);
      order.push(id);
    }));
    untilParked(subject, object, 4);
    if (subject.broadcast) subject.wake(object);
    else for (let i = 0; i < 4; i++) subject.wake(object);
    for (const waiter of waiters) waiter.get({ timeout: 5000 });
    expect(order).toEqual([1, 2, 3, 4]);
  }));
});
