// Queues (gevent.queue): Queue (FIFO, joinable), LifoQueue, PriorityQueue, JoinableQueue and the
// rendezvous Channel. Items and free slots are handed to parked greenlets in arrival order at the
// moment they appear, with the parking discipline of linkable.ts.
import { OverReleaseError, QueueEmpty, QueueFull, QueueShutDown } from './errors';
import { Event } from './event';
import { canBlock } from './hub';
import { grant, Link, park, Parked, WaitList } from './linkable';
import { checkFunction, checkOptionalBoolean, checkTimeout, invalidArgument, readOptions } from './validate';
import { Deque, Heap, naturalOrder, Stack, type Store } from './queue-store';

export { naturalOrder };

export interface PutOptions {
  /** false: never block; throw QueueFull at once if there is no room. Default true. */
  block?: boolean;
  /** ms to wait at most for room (blocking only); then QueueFull is thrown. */
  timeout?: number | null;
}

export interface GetOptions {
  /** false: never block; throw QueueEmpty at once if there is no item. Default true. */
  block?: boolean;
  /** ms to wait at most for an item (blocking only); then QueueEmpty is thrown. */
  timeout?: number | null;
}

function grantedLink(): Link {
  const link = new Link();
  grant(link);
  return link;
}

// How a Queue subclass picks its store without a constructor parameter users would see: set just
// before super(), taken by Queue's constructor.
let storeForNextQueue: Store<any> | undefined;

function takeStore<T>(): Store<T> | undefined {
  const store = storeForNextQueue;
  storeForNextQueue = undefined;
  return store;
}

// put()/get()/peek() options: `block` a boolean, `timeout` by the rule for times (validate.ts).
const NO_BLOCK_OPTIONS = Object.freeze({ block: undefined, timeout: undefined });

function readBlockOptions(options: unknown): { readonly block: boolean | undefined; readonly timeout: number | undefined } {
  if (options === undefined) return NO_BLOCK_OPTIONS; // the hot path allocates nothing
  const read = readOptions(options, 'options', ['block', 'timeout']);
  return { block: checkOptionalBoolean(read.block, 'options.block'), timeout: checkTimeout(read.timeout, 'options.timeout') };
}

function checkMaxsize(maxsize: unknown): number {
  if (maxsize === undefined || maxsize === null) return Infinity;
  if (typeof maxsize !== 'number') throw invalidArgument('maxsize', 'an integer (or Infinity)', maxsize);
  if (maxsize !== Infinity && maxsize !== -Infinity && !Number.isInteger(maxsize)) throw invalidArgument('maxsize', 'an integer (or Infinity)', maxsize, true);
  // As gevent and the standard library: zero or less means unbounded. A rendezvous is a Channel.
  return maxsize <= 0 ? Infinity : maxsize;
}

/**
 * What every queue shares: items in a store, parked getters, putters and peekers. Not exported
 * from the package; Queue and Channel are.
 */
export abstract class SimpleQueue<T> implements Iterable<T> {
  readonly #store: Store<T>;
  readonly #maxsize: number;
  readonly #getters = new WaitList();
  readonly #putters = new WaitList();
  readonly #peekers = new WaitList();
  #shutDown = false;
  readonly #giveBack = (link: Link): void => this.#returnItem(link.value as T);

  /** @internal */
  constructor(store: Store<T>, maxsize: number) {
    this.#store = store;
    this.#maxsize = maxsize;
  }

  /** The most items it holds (Infinity if unbounded; 0 for a Channel). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** How many items it holds now. */
  qsize(): number {
    return this.#store.length;
  }

  /** True if it holds no item. */
  empty(): boolean {
    return this.#store.length === 0;
  }

  /** True if a put() would block. */
  full(): boolean {
    return this.#store.length >= this.#maxsize;
  }

  /** Greenlets parked in get() (plus those in peek()) minus those parked in put(). */
  get balance(): number {
    return this.#getters.length + this.#peekers.length - this.#putters.length;
  }

  /**
   * Adds `item`; blocks while the queue is full. A greenlet waiting in get() receives it directly.
   * Callable from anywhere when it does not have to wait (a loop callback, async code).
   * @throws QueueFull if `block` is false and there is no room, or the timeout expired;
   *   QueueShutDown after shutdown(); BlockingOnHubError when it would block in a loop callback.
   */
  put(item: T, options?: PutOptions): void {
    const { block, timeout } = readBlockOptions(options);
    if (this.#shutDown) throw new QueueShutDown('put() on a queue that has been shut down');
    const getter = this.#getters.head;
    if (getter !== null) {
      getter.value = item;
      this.accepted();
      grant(getter);
      // A rendezvous (Channel): the putter lets the getter run first, as gevent's put() does.
      if (this.#maxsize === 0 && block !== false && canBlock()) park(this.#putters, grantedLink(), undefined, null);
      return;
    }
    if (this.#store.length < this.#maxsize) {
      this.#store.push(item);
      this.accepted();
      if (this.#peekers.head !== null) this.#grantPeekers(item);
      return;
    }
    if (block === false) throw new QueueFull();
    if (this.#peekers.head !== null) this.#grantPeekers(item); // a Channel's item is visible to peek()
    const link = new Link();
    link.value = item;
    if (park(this.#putters, link, timeout, null) === Parked.TimedOut) {
      throw new QueueFull(`the queue stayed full for ${timeout} ms: put() timed out`);
    }
  }

  /** put(item, { block: false }). */
  putNowait(item: T): void {
    this.put(item, { block: false });
  }

  /**
   * Removes and returns the next item; blocks while there is none. Getters are served in the
   * order they arrived. Callable from anywhere when an item is there.
   * @throws QueueEmpty if `block` is false and there is no item, or the timeout expired;
   *   QueueShutDown once the queue is shut down and drained; BlockingOnHubError when it would
   *   block in a loop callback. A getter killed after an item was handed to it gives the item back.
   */
  get(options?: GetOptions): T {
    const { block, timeout } = readBlockOptions(options);
    const store = this.#store;
    if (store.length > 0) {
      const item = store.take();
      if (this.#putters.head !== null) this.#admitPutters();
      return item;
    }
    const putter = this.#putters.head;
    if (putter !== null) {
      // A rendezvous: take the parked putter's item directly.
      this.accepted();
      grant(putter);
      return putter.value as T;
    }
    if (this.#shutDown) throw new QueueShutDown('get() on a queue that has been shut down and drained');
    if (block === false) throw new QueueEmpty();
    const link = new Link();
    if (park(this.#getters, link, timeout, this.#giveBack) === Parked.TimedOut) {
      throw new QueueEmpty(`nothing arrived in the queue for ${timeout} ms: get() timed out`);
    }
    return link.value as T;
  }

  /** get({ block: false }). */
  getNowait(): T {
    return this.get({ block: false });
  }

  /**
   * Returns the next item without removing it; blocks while there is none (same options and
   * errors as get()).
   */
  peek(options?: GetOptions): T {
    const { block, timeout } = readBlockOptions(options);
    if (this.#store.length > 0) return this.#store.peek();
    if (this.#putters.head !== null) return this.#putters.head.value as T;
    if (this.#shutDown) throw new QueueShutDown('peek() on a queue that has been shut down and drained');
    if (block === false) throw new QueueEmpty();
    const link = new Link();
    if (park(this.#peekers, link, timeout, null) === Parked.TimedOut) {
      throw new QueueEmpty(`nothing arrived in the queue for ${timeout} ms: peek() timed out`);
    }
    return link.value as T;
  }

  /** peek({ block: false }). */
  peekNowait(): T {
    return this.peek({ block: false });
  }

  /**
   * Shuts the queue down (Python 3.13's Queue.shutdown): put() throws QueueShutDown from now on;
   * get() keeps returning what is left, then throws QueueShutDown, which ends iteration. Every
   * greenlet parked in put(), get() or peek() is woken with QueueShutDown. With `immediate`, the
   * items left are dropped too (and marked done for join()). Callable from anywhere.
   */
  shutdown(immediate = false): void {
    if (typeof immediate !== 'boolean') throw invalidArgument('immediate', 'a boolean', immediate);
    this.#shutDown = true;
    if (immediate) {
      while (this.#store.length > 0) {
        this.#store.take();
        this.dropped();
      }
    }
    for (const list of [this.#getters, this.#putters, this.#peekers]) {
      for (let link = list.head; link !== null; link = list.head) {
        link.error = new QueueShutDown('the queue was shut down while this greenlet waited on it');
        grant(link);
      }
    }
  }

  /** Whether shutdown() was called. */
  get isShutDown(): boolean {
    return this.#shutDown;
  }

  /**
   * Iterating a queue calls get() for each item, blocking for the next one like gevent's; it
   * ends when the queue is shut down and drained (shutdown()). `break` just stops taking items.
   */
  [Symbol.iterator](): IterableIterator<T> {
    const iterator: IterableIterator<T> = {
      next: (): IteratorResult<T> => {
        try {
          return { value: this.get(), done: false };
        } catch (error) {
          if (error instanceof QueueShutDown) return { value: undefined, done: true };
          throw error;
        }
      },
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }

  /** @internal A new item entered (put, or a parked putter's item taken in). */
  protected accepted(): void {}

  /** @internal An item left unprocessed (immediate shutdown). */
  protected dropped(): void {}

  // A getter that was handed `item` left with an error: the item goes to the next getter, or
  // back in front of the store (past maxsize if need be): never lost, never duplicated.
  #returnItem(item: T): void {
    const getter = this.#getters.head;
    if (getter !== null) {
      getter.value = item;
      grant(getter);
      return;
    }
    this.#store.restore(item);
    if (this.#peekers.head !== null) this.#grantPeekers(item);
  }

  // Room was made: take parked putters' items in, in arrival order.
  #admitPutters(): void {
    const store = this.#store;
    for (let putter = this.#putters.head; putter !== null && store.length < this.#maxsize; putter = this.#putters.head) {
      store.push(putter.value as T);
      this.accepted();
      grant(putter);
    }
  }

  #grantPeekers(item: T): void {
    for (let link = this.#peekers.head; link !== null; link = this.#peekers.head) {
      link.value = item;
      grant(link);
    }
  }

  toString(): string {
    const size = this.#maxsize === Infinity ? '' : ` maxsize=${this.#maxsize}`;
    return `<${this.constructor.name}${size} qsize=${this.#store.length} getters=${this.#getters.length} putters=${this.#putters.length}>`;
  }
}

/**
 * A FIFO queue of at most `maxsize` items (gevent.queue.Queue, which is joinable): put() blocks
 * while it is full, get() while it is empty; taskDone() and join() track processing.
 */
export class Queue<T = unknown> extends SimpleQueue<T> {
  #unfinished = 0;
  readonly #allDone = new Event();

  /** @param maxsize the most items it holds; Infinity (default), or ≤ 0, means unbounded. */
  constructor(maxsize: number | null = Infinity) {
    super(takeStore<T>() ?? new Deque<T>(), checkMaxsize(maxsize));
    this.#allDone.set();
  }

  /** Items put and not yet marked done with taskDone(). */
  get unfinishedTasks(): number {
    return this.#unfinished;
  }

  /**
   * Marks one item taken with get() as processed; join() returns once every item put has been.
   * Callable from anywhere.
   * @throws OverReleaseError if called more times than items were put.
   */
  taskDone(): void {
    if (this.#unfinished <= 0) throw new OverReleaseError('taskDone() called more times than there were items put in the queue');
    if (--this.#unfinished === 0) this.#allDone.set();
  }

  /**
   * Blocks until every item put has been marked done with taskDone(), or `timeout` ms pass.
   * @returns true once all are done (at least once during the wait), false on timeout.
   */
  join(timeout?: number | null): boolean {
    return this.#allDone.wait(timeout);
  }

  protected override accepted(): void {
    if (this.#unfinished++ === 0) this.#allDone.clear();
  }

  protected override dropped(): void {
    this.taskDone();
  }
}

/** Same as Queue, whose taskDone()/join() it has (gevent's JoinableQueue, kept for its name). */
export class JoinableQueue<T = unknown> extends Queue<T> {}

/** A queue that returns the most recently added item first (gevent.queue.LifoQueue). */
export class LifoQueue<T = unknown> extends Queue<T> {
  constructor(maxsize: number | null = Infinity) {
    checkMaxsize(maxsize); // before storeForNextQueue is set: a throw must not leave it behind
    storeForNextQueue = new Stack<T>();
    super(maxsize);
  }
}

export interface PriorityQueueOptions<T> {
  /** Orders items, lowest first: negative if `a` comes before `b`. Default: naturalOrder. */
  comparator?: (a: T, b: T) => number;
  maxsize?: number | null;
}

/**
 * A queue that returns the lowest item first (gevent.queue.PriorityQueue), by `comparator` or
 * by default numbers and strings in natural order and arrays such as `[priority, data]`
 * lexicographically. Items that compare equal come out in no particular order.
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  constructor(maxsize?: number | null | PriorityQueueOptions<T>, options: PriorityQueueOptions<T> = {}) {
    let name = 'options';
    if (typeof maxsize === 'object' && maxsize !== null) {
      options = maxsize;
      name = 'maxsize';
    }
    const read = readOptions(options, name, ['maxsize', 'comparator']);
    if (name === 'maxsize') maxsize = read.maxsize as number | null | undefined;
    const comparator = (read.comparator ?? naturalOrder) as (a: T, b: T) => number;
    checkFunction(comparator, `${name}.comparator`);
    checkMaxsize(maxsize); // before storeForNextQueue is set: a throw must not leave it behind
    storeForNextQueue = new Heap<T>(comparator);
    super((maxsize as number | null | undefined) ?? Infinity);
  }
}

/**
 * A rendezvous (gevent.queue.Channel; maxsize 0): put() blocks until a getter takes the item,
 * get() until a putter brings one. Holds no items itself.
 */
export class Channel<T = unknown> extends SimpleQueue<T> {
  constructor() {
    super(new Deque<T>(), 0);
  }
}
