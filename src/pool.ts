// Groups and pools of greenlets (gevent.pool): Group tracks greenlets until they finish; Pool is a
// Group plus a Semaphore that caps how many run at once. Both map functions over inputs.
import { AsyncResult, Event } from './event';
import { checkGreenlets, Greenlet, spawn } from './greenlet';
import { getCurrent } from './hub';
import { describe } from './linkable';
import { Semaphore } from './lock';
import { Queue } from './queue';
import { Timeout } from './timeout';
import { checkCount, checkFunction, checkIterable, checkOptionalBoolean, checkOptionalFunction, checkTimeout, invalidArgument, readOptions } from './validate';
import { kLink, kUnlink } from './waitable';

export interface GroupKillOptions {
  /** Wait until every greenlet has died (default true). */
  block?: boolean;
  /** ms to wait at most when blocking; then kill() returns with some still dying. */
  timeout?: number | null;
}

export interface IMapOptions {
  /**
   * The most finished results allowed to wait for the reader; more make the mapping pause
   * (gevent's imap maxsize). Default unbounded.
   */
  maxsize?: number;
}

/**
 * A set of running greenlets (gevent.pool.Group): each leaves the group when it finishes. join()
 * waits for all, kill() kills all; spawn(), map(), imap() and friends run functions in it.
 */
export class Group implements Iterable<Greenlet<any>> {
  readonly #greenlets = new Set<Greenlet<any>>();
  readonly #dying = new Set<Greenlet<any>>();
  readonly #empty = new Event();
  readonly #onDone = (greenlet: Greenlet<any>): void => this.#forget(greenlet);
  // The greenlets of applyAsync()/mapAsync() still waiting for room (or mapping): join() waits
  // for them and kill() kills them, though they are not members.
  readonly #submitters = new Set<Greenlet<any>>();
  readonly #onSubmitted = (submitter: Greenlet<any>): void => {
    this.#submitters.delete(submitter);
    if (this.#greenlets.size === 0 && this.#submitters.size === 0) this.#empty.set();
  };

  /**
   * @param greenlets greenlets to track from the start.
   * @throws TypeError unless an iterable of Greenlets.
   */
  constructor(greenlets: Iterable<Greenlet<any>> = []) {
    const list = checkGreenlets(greenlets, 'greenlets');
    this.#empty.set();
    for (const greenlet of list) this.add(greenlet);
  }

  /** How many greenlets it may run at once: Infinity for a Group. */
  get size(): number {
    return Infinity;
  }

  /** How many greenlets it tracks now. */
  get length(): number {
    return this.#greenlets.size;
  }

  /** Whether it tracks `greenlet`. */
  has(greenlet: Greenlet<any>): boolean {
    return this.#greenlets.has(greenlet);
  }

  /** The greenlets it tracks now, in the order they were added. */
  [Symbol.iterator](): IterableIterator<Greenlet<any>> {
    return this.#greenlets.values();
  }

  /**
   * Starts `fn(...args)` in a new greenlet tracked by this group. A Pool blocks here while full.
   * @throws BlockingOnHubError if a full Pool is asked from a plain loop callback.
   */
  spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Greenlet<R> {
    checkFunction(fn, 'fn');
    this.reserve();
    let greenlet: Greenlet<R>;
    try {
      greenlet = spawn(fn, ...args);
    } catch (error) {
      this.unreserve();
      throw error;
    }
    this.#track(greenlet);
    return greenlet;
  }

  /**
   * Starts tracking `greenlet` (a Pool blocks while full). A no-op if it is tracked already.
   * @throws TypeError unless `greenlet` is a Greenlet.
   */
  add(greenlet: Greenlet<any>): void {
    if (!(greenlet instanceof Greenlet)) throw invalidArgument('greenlet', 'a Greenlet', greenlet);
    if (this.#greenlets.has(greenlet)) return;
    this.reserve();
    this.#track(greenlet);
  }

  /** Stops tracking `greenlet` without killing it. */
  discard(greenlet: Greenlet<any>): void {
    if (!(greenlet instanceof Greenlet)) throw invalidArgument('greenlet', 'a Greenlet', greenlet);
    (greenlet as any)[kUnlink](this.#onDone);
    this.#forget(greenlet);
  }

  #track(greenlet: Greenlet<any>): void {
    this.#greenlets.add(greenlet);
    this.#empty.clear();
    (greenlet as any)[kLink](this.#onDone);
  }

  #forget(greenlet: Greenlet<any>): void {
    if (!this.#greenlets.delete(greenlet)) return;
    this.#dying.delete(greenlet);
    this.unreserve();
    if (this.#greenlets.size === 0 && this.#submitters.size === 0) this.#empty.set();
  }

  /** @internal Takes a slot (Pool: blocks while full). */
  protected reserve(): void {}

  /** @internal Gives a slot back. */
  protected unreserve(): void {}

  /**
   * Blocks until the group is empty (at least once), or `timeout` ms pass.
   * @param options.raiseError throw the error of a greenlet (tracked when join() was called) that failed.
   * @returns true if it became empty, false on timeout.
   */
  join(timeout?: number | null, options: { raiseError?: boolean } = {}): boolean {
    const ms = checkTimeout(timeout);
    const raiseError = checkOptionalBoolean(readOptions(options, 'options', ['raiseError']).raiseError, 'options.raiseError');
    const watched = raiseError ? [...this.#greenlets] : [];
    const empty = this.#empty.wait(ms);
    for (const greenlet of watched) {
      if (greenlet.ready() && !greenlet.successful()) throw greenlet.exception;
    }
    return empty;
  }

  /**
   * Kills every greenlet it tracks (each once), with `error` (default: GreenletExit), and by
   * default waits until they have all died, including any spawned meanwhile.
   */
  kill(error?: unknown, options: GroupKillOptions = {}): void {
    const read = readOptions(options, 'options', ['block', 'timeout']);
    const block = checkOptionalBoolean(read.block, 'options.block') ?? true;
    const timer = Timeout.startNewOrDummy(checkTimeout(read.timeout, 'options.timeout'));
    try {
      while (this.#greenlets.size > 0 || this.#submitters.size > 0) {
        for (const greenlet of [...this.#submitters, ...this.#greenlets]) {
          if (this.#dying.has(greenlet)) continue;
          this.#dying.add(greenlet);
          greenlet.kill(error, { block: false });
        }
        if (!block) break;
        this.#empty.wait();
      }
    } catch (caught) {
      if (caught !== timer) throw caught;
    } finally {
      timer.cancel();
    }
  }

  /** Whether spawn() would block now. Always false for a Group. */
  full(): boolean {
    return this.freeCount() <= 0;
  }

  /** How many greenlets spawn() could start now without blocking: Infinity for a Group. */
  freeCount(): number {
    return Infinity;
  }

  /**
   * Blocks until spawn() would not block, or `timeout` ms pass (a Group never blocks).
   * @returns freeCount() then (0 if the timeout expired).
   */
  waitAvailable(timeout?: number | null): number {
    checkTimeout(timeout);
    return this.freeCount();
  }

  /**
   * Runs `fn(...args)` in the group and returns its result, blocking until it is done; rethrows
   * its error. Called from a greenlet of this group, it runs `fn` directly (no deadlock when full).
   */
  apply<A extends unknown[], R>(fn: (...args: A) => R, args: A = [] as unknown as A): R {
    checkFunction(fn, 'fn');
    checkArgs(args);
    if (this.#greenlets.has(getCurrent() as unknown as Greenlet<any>)) return fn(...args);
    return this.spawn(fn, ...args).get();
  }

  /**
   * Applies `fn` to each item in its own greenlet (at most `size` at once) and returns the results
   * in input order, blocking until all are done. The first failure, in input order, is thrown
   * (the other calls still run to their end); the group stays usable.
   */
  map<T, R>(fn: (item: T) => R, items: Iterable<T>): R[] {
    checkFunction(fn, 'fn');
    checkIterable(items, 'items');
    const greenlets: Greenlet<R>[] = [];
    for (const item of items) greenlets.push(this.spawn(fn, item));
    const results = new Array<R>(greenlets.length);
    for (let i = 0; i < greenlets.length; i++) results[i] = greenlets[i].get();
    return results;
  }

  /**
   * Like map(), lazily: an iterator that yields each result in input order as soon as it (and all
   * before it) are done; iterating blocks. A failed call throws from next() at its place; the
   * iterator then goes on with the next result. Breaking out stops starting new calls.
   */
  imap<T, R>(fn: (item: T) => R, items: Iterable<T>, options: IMapOptions = {}): IterableIterator<R> {
    const maxsize = checkMapArgs(fn, items, options);
    return new MapIterator(this, fn, items, true, maxsize);
  }

  /** Like imap(), but yields results in the order the calls finish. */
  imapUnordered<T, R>(fn: (item: T) => R, items: Iterable<T>, options: IMapOptions = {}): IterableIterator<R> {
    const maxsize = checkMapArgs(fn, items, options);
    return new MapIterator(this, fn, items, false, maxsize);
  }

  /**
   * Runs `fn(...args)` in the group without ever blocking, even when a Pool is full (gevent's
   * apply_async): returns an AsyncResult that gets `fn`'s value or error. `callback(value)`, if
   * given, runs once `fn` has succeeded, in a greenlet of its own (so it may block); it is not
   * called on failure. When the pool is full, a greenlet outside the pool waits for a free slot
   * and then spawns the call; join() waits for it and kill() kills it (the AsyncResult then holds
   * the kill's error). Callable from anywhere (greenlets, loop callbacks, async code).
   * @throws TypeError for a bad `fn`, `args` (an array) or `callback`.
   */
  applyAsync<A extends unknown[], R>(fn: (...args: A) => R, args: A = [] as unknown as A, callback?: (value: R) => void): AsyncResult<R> {
    checkFunction(fn, 'fn');
    checkArgs(args);
    checkOptionalFunction(callback, 'callback');
    const result = new AsyncResult<R>();
    if (!this.full()) {
      this.#settleWith(this.spawn(fn, ...[...args] as A), result, callback);
      return result;
    }
    this.#submit(result, () => {
      this.#settleWith(this.spawn(fn, ...[...args] as A), result, callback);
    });
    return result;
  }

  /**
   * Like map(), without blocking (gevent's map_async): a greenlet outside the group runs
   * `map(fn, items)`, and the returned AsyncResult gets the array of results (or the first
   * error, in input order); `callback(results)` runs on success, in a greenlet of its own.
   * join() waits for it and kill() kills it. Callable from anywhere.
   * @throws TypeError for a bad `fn`, `items` (an iterable) or `callback`.
   */
  mapAsync<T, R>(fn: (item: T) => R, items: Iterable<T>, callback?: (results: R[]) => void): AsyncResult<R[]> {
    checkFunction(fn, 'fn');
    checkIterable(items, 'items');
    checkOptionalFunction(callback, 'callback');
    const result = new AsyncResult<R[]>();
    this.#submit(result, () => {
      const results = this.map(fn, items);
      result.set(results);
      if (callback !== undefined) callback(results);
    });
    return result;
  }

  // Runs `body` in a greenlet outside the group that join() waits for and kill() kills; an error
  // it raises (a kill while it waits for room included) goes to `result`.
  #submit<R>(result: AsyncResult<R>, body: () => void): void {
    const submitter = spawn(() => {
      try {
        body();
      } catch (error) {
        if (!result.ready()) result.setException(error);
        else throw error; // the callback failed: reported like any greenlet error
      }
    });
    this.#submitters.add(submitter);
    this.#empty.clear();
    submitter.rawlink(this.#onSubmitted);
  }

  // Settles `result` from `greenlet` once it is done; `callback(value)` on success, in a greenlet.
  #settleWith<R>(greenlet: Greenlet<R>, result: AsyncResult<R>, callback: ((value: R) => void) | undefined): void {
    greenlet.rawlink((done: Greenlet<R>) => {
      if (done.successful()) result.set(done.value as R);
      else result.setException(done.exception);
    });
    if (callback !== undefined) greenlet.linkValue((done: Greenlet<R>) => callback(done.value as R));
  }

  toString(): string {
    return `<${this.constructor.name} length=${this.#greenlets.size}${this.size === Infinity ? '' : ` size=${this.size}`}>`;
  }
}

function checkArgs(args: unknown): void {
  if (!Array.isArray(args)) throw invalidArgument('args', 'an array of arguments', args);
}

function checkMapArgs(fn: unknown, items: unknown, options: unknown): number | undefined {
  checkFunction(fn, 'fn');
  checkIterable(items, 'items');
  return checkCount(readOptions(options, 'options', ['maxsize']).maxsize, 'options.maxsize', 1);
}

/**
 * A Group that runs at most `size` greenlets at once (gevent.pool.Pool): spawn() blocks while it
 * is full, and waiters get the free slots in arrival order.
 */
export class Pool extends Group {
  readonly #size: number;
  readonly #slots: Semaphore | null;

  /**
   * @param size the most greenlets running at once; Infinity (default) for no limit; 0 makes a
   *   pool whose spawn() blocks forever (useful only with waitAvailable(timeout) and freeCount()).
   * @throws RangeError unless `size` is a non-negative integer or Infinity.
   */
  constructor(size: number = Infinity) {
    checkCount(size, 'size', 0, true);
    super();
    this.#size = size;
    this.#slots = size === Infinity ? null : new Semaphore(size);
  }

  override get size(): number {
    return this.#size;
  }

  override freeCount(): number {
    return this.#slots === null ? Infinity : this.#slots.counter;
  }

  override waitAvailable(timeout?: number | null): number {
    const ms = checkTimeout(timeout);
    return this.#slots === null ? Infinity : this.#slots.wait(ms);
  }

  protected override reserve(): void {
    this.#slots?.acquire();
  }

  protected override unreserve(): void {
    this.#slots?.release();
  }
}

const enum EntryKind {
  Value = 0,
  Error = 1,
  End = 2,
}

interface Entry {
  index: number;
  kind: EntryKind;
  value: unknown;
}

/** The iterator of imap()/imapUnordered() (gevent's _imap.IMap): a feeder greenlet spawns the calls. */
class MapIterator<T, R> implements IterableIterator<R> {
  readonly #results = new Queue<Entry>();
  readonly #ordered: boolean;
  readonly #pending = new Map<number, Entry>();
  readonly #throttle: Semaphore | null;
  #outstanding = 0;
  #fed = false;
  #total = 0;
  #next = 0;
  #done = false;
  #feeder: Greenlet<void>;

  constructor(group: Group, fn: (item: T) => R, items: Iterable<T>, ordered: boolean, maxsize: number | undefined) {
    if (typeof fn !== 'function') throw new TypeError(`Expected a function for fn but received ${describe(fn)}`);
    if (maxsize !== undefined && (!Number.isInteger(maxsize) || maxsize < 1)) {
      throw new RangeError(`Expected a positive integer for options.maxsize but received ${describe(maxsize)}`);
    }
    this.#ordered = ordered;
    this.#throttle = maxsize === undefined ? null : new Semaphore(maxsize);
    this.#feeder = spawn(() => this.#feed(group, fn, items));
  }

  #feed(group: Group, fn: (item: T) => R, items: Iterable<T>): void {
    let index = 0;
    try {
      for (const item of items) {
        this.#throttle?.acquire();
        const at = index++;
        this.#outstanding++;
        const greenlet = group.spawn(fn, item);
        (greenlet as any)[kLink]((done: Greenlet<R>) => this.#onResult(done, at));
      }
    } catch (error) {
      if (this.#done) throw error; // killed by return(): nobody reads any more
      // The input iterable (or spawn) failed: the reader gets the error at this place, then the end.
      this.#results.put({ index, kind: EntryKind.Error, value: error });
      index++;
    }
    this.#fed = true;
    this.#total = index;
    if (this.#outstanding === 0) this.#results.put({ index, kind: EntryKind.End, value: undefined });
  }

  // On the hub, when a call finishes.
  #onResult(greenlet: Greenlet<R>, index: number): void {
    const ok = greenlet.successful();
    this.#results.put({ index, kind: ok ? EntryKind.Value : EntryKind.Error, value: ok ? greenlet.value : greenlet.exception });
    if (--this.#outstanding === 0 && this.#fed) this.#results.put({ index: this.#total, kind: EntryKind.End, value: undefined });
  }

  next(): IteratorResult<R> {
    if (this.#done) return { value: undefined, done: true };
    this.#throttle?.release();
    const entry = this.#ordered ? this.#nextInOrder() : this.#results.get();
    if (entry.kind === EntryKind.End) {
      this.#done = true;
      return { value: undefined, done: true };
    }
    if (entry.kind === EntryKind.Error) throw entry.value;
    return { value: entry.value as R, done: false };
  }

  #nextInOrder(): Entry {
    let entry = this.#pending.get(this.#next);
    if (entry !== undefined) {
      this.#pending.delete(this.#next);
    } else {
      for (entry = this.#results.get(); entry.index !== this.#next; entry = this.#results.get()) this.#pending.set(entry.index, entry);
    }
    this.#next++;
    return entry;
  }

  /** Breaking out of a for…of: stop starting calls (those running finish on their own). */
  return(): IteratorResult<R> {
    this.#done = true;
    if (!this.#feeder.dead) this.#feeder.kill(undefined, { block: false });
    return { value: undefined, done: true };
  }

  [Symbol.iterator](): IterableIterator<R> {
    return this;
  }
}
