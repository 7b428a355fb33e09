// Waiting on anything: wait() (one object), waitAll() and iwait() (many), blocking() (an async
// function made blocking). Objects are promises/thenables or waitables (Greenlet, Event,
// AsyncResult, anything implementing src/waitable.ts).
import { types } from 'node:util';
import { Fiber } from './fiber';
import { FiberError } from './errors';
import { liveGreenlets } from './live-greenlets';
import { setLongTimeout, type LongTimer } from './long-timer';
import { Waiter } from './waiter';
import { Timeout } from './timeout';
import { checkCount, checkFunction, checkIterable, checkTimeout, describe, readOptions } from './validate';
import { isWaitable, kLink, kReady, kResult, kUnlink, type Waitable } from './waitable';

/** Anything wait() accepts. */
export type WaitableLike<T = unknown> = PromiseLike<T> | Waitable<T>;

/**
 * The outcome of every promise we have seen settle, so waiting on it again never parks. A native
 * promise carries it under a symbol of ours; other thenables (a Proxy, a frozen promise, a
 * thenable object whose properties could be observed) are kept in a WeakMap. A WeakMap entry per
 * wait() cost a wait about a tenth of its CPU time (ephemeron barriers and every scavenge
 * clearing old entries).
 */
const settled = new WeakMap<object, Outcome>();
const kSettled = Symbol('greenfiber.settled');
interface Outcome {
  ok: boolean;
  value: unknown;
}

function remember(object: object, ok: boolean, value: unknown): void {
  const outcome: Outcome = { ok, value };
  if (types.isPromise(object) && Object.isExtensible(object)) (object as { [kSettled]?: Outcome })[kSettled] = outcome;
  else settled.set(object, outcome);
}

function outcomeOf(object: object): Outcome | undefined {
  return types.isPromise(object) ? ((object as { [kSettled]?: Outcome })[kSettled] ?? settled.get(object)) : settled.get(object);
}

/** @internal Whether `value` has a callable `then`. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function notWaitable(value: unknown, name: string): TypeError {
  return new TypeError(`Expected a Promise, thenable, Greenlet, Event or AsyncResult for ${name} but received ${describe(value)}`);
}

// What wait() can do with `value`; 'none' also for an object whose property reads throw.
function kindOf(value: unknown): 'waitable' | 'thenable' | 'none' {
  try {
    if (isWaitable(value)) return 'waitable';
    if (isThenable(value)) return 'thenable';
  } catch {
    // a hostile object (a Proxy whose traps throw): not something we can wait for
  }
  return 'none';
}

function waitsForItself(): FiberError {
  return new FiberError(`a greenlet cannot wait for itself: it would wait forever for its own end (greenlet ${JSON.stringify(Fiber.current.name)})`);
}

/**
 * Blocks until `object` is ready and returns its value, or throws its error: `await` for code
 * that cannot be async. Accepts a Promise or thenable, a Greenlet, an Event, an AsyncResult or any
 * waitable. With `timeout`, throws a Timeout if it is not ready in time.
 * @throws BlockingOnHubError in a loop callback outside any greenlet; LoopExit at the top level
 *   of a script when nothing could ever settle it.
 */
export function wait<T>(object: WaitableLike<T>, options: { timeout?: number | null } = {}): T {
  const timeout = checkTimeout(readOptions(options, 'options', ['timeout']).timeout, 'options.timeout');
  const kind = kindOf(object);
  if (kind === 'none') throw notWaitable(object, 'object');
  if (kind === 'waitable' && isWaitable(object)) {
    if (object[kReady]()) return object[kResult]() as T;
    if ((object as unknown) === Fiber.current) throw waitsForItself();
    const waiter = new Waiter<void>();
    const wake = (): void => waiter.switch(undefined);
    object[kLink](wake);
    const timer = Timeout.startNewOrDummy(timeout);
    try {
      waiter.get();
    } finally {
      timer.cancel();
      object[kUnlink](wake);
    }
    return object[kResult]() as T;
  }
  if (isThenable(object)) {
    const known = outcomeOf(object);
    if (known !== undefined) {
      if (known.ok) return known.value as T;
      throw known.value;
    }
    const waiter = new Waiter<T>();
    object.then(
      (value) => {
        remember(object, true, value);
        waiter.switch(value);
      },
      (error: unknown) => {
        remember(object, false, error);
        waiter.throw(error);
      },
    );
    const timer = Timeout.startNewOrDummy(timeout);
    try {
      return waiter.get();
    } finally {
      timer.cancel();
    }
  }
  throw notWaitable(object, 'object');
}

/**
 * Yields each object as it becomes ready (gevent.iwait), those ready already first, in the given
 * order. Stops after `count` objects, or (without an error) once `timeout` ms have passed. Blocks
 * between items. A promise counts as ready once settled; wait(promise) then returns at once.
 */
export function iwait<O extends WaitableLike<any>>(objects: Iterable<O>, options: { timeout?: number | null; count?: number } = {}): Generator<O, void, undefined> {
  // Checked now, not at the first next(): a bad argument fails where the call is.
  const list = [...(checkIterable(objects, 'objects', 'an iterable of Promises or waitables') as Iterable<O>)];
  for (let i = 0; i < list.length; i++) if (kindOf(list[i]) === 'none') throw notWaitable(list[i], `objects[${i}]`);
  const read = readOptions(options, 'options', ['timeout', 'count']);
  const timeout = checkTimeout(read.timeout, 'options.timeout');
  const count = Math.min(checkCount(read.count, 'options.count', 0, true) ?? list.length, list.length);
  if (timeout === undefined && count === list.length && list.includes(Fiber.current as unknown as O) && !(Fiber.current as unknown as Waitable)[kReady]?.()) {
    throw waitsForItself();
  }
  return iwaitChecked(list, timeout, count);
}

function* iwaitChecked<O extends WaitableLike<any>>(list: O[], timeout: number | undefined, count: number): Generator<O, void, undefined> {
  let remaining = count;
  if (remaining <= 0) return;
  const ready: O[] = [];
  let waiter: Waiter<void> | undefined;
  let expired = false;
  let finished = false;
  const onReady = (object: O): void => {
    if (finished) return;
    ready.push(object);
    if (waiter !== undefined) {
      const current = waiter;
      waiter = undefined;
      current.switch(undefined);
    }
  };
  const linked: Array<[Waitable<any>, (source: unknown) => void]> = [];
  for (const object of list) {
    if (isWaitable(object)) {
      if (object[kReady]()) {
        ready.push(object);
        continue;
      }
      const callback = (): void => onReady(object);
      object[kLink](callback);
      linked.push([object, callback]);
    } else if (outcomeOf(object) !== undefined) {
      ready.push(object);
    } else {
      (object as PromiseLike<unknown>).then(
        (value) => {
          remember(object, true, value);
          onReady(object);
        },
        (error: unknown) => {
          remember(object, false, error);
          onReady(object);
        },
      );
    }
  }
  let timer: LongTimer | undefined;
  if (timeout !== undefined && ready.length < remaining) {
    timer = setLongTimeout(() => {
      expired = true;
      if (waiter !== undefined) {
        const current = waiter;
        waiter = undefined;
        current.switch(undefined);
      }
    }, timeout, undefined);
  }
  try {
    while (remaining > 0) {
      if (ready.length === 0) {
        if (expired) return;
        waiter = new Waiter<void>();
        waiter.get();
        continue;
      }
      remaining--;
      yield ready.shift()!;
    }
  } finally {
    finished = true;
    waiter = undefined;
    timer?.cancel();
    for (const [object, callback] of linked) object[kUnlink](callback);
  }
}

/**
 * Waits for the objects (gevent.wait) and returns those that became ready, in that order; stops
 * after `count` of them or `timeout` ms. Without objects, waits until every other live greenlet
 * has finished. Blocks.
 */
export function waitAll<O extends WaitableLike<any>>(objects?: Iterable<O> | null, options: { timeout?: number | null; count?: number } = {}): O[] {
  if (objects === undefined || objects === null) {
    const read = readOptions(options, 'options', ['timeout', 'count']);
    const timeout = checkTimeout(read.timeout, 'options.timeout');
    checkCount(read.count, 'options.count', 0, true);
    const current = Fiber.current;
    const deadline = timeout === undefined ? undefined : Date.now() + timeout;
    for (;;) {
      const others = liveGreenlets().filter((greenlet) => greenlet !== current);
      if (others.length === 0) return [];
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) return [];
      waitAll(others, { timeout: left });
    }
  }
  return [...iwait(objects, options)];
}

/**
 * Turns an async function into a blocking one with the same arguments (Future.wrap): calling it
 * runs `fn` and waits for its promise. Blocks; see wait().
 */
export function blocking<A extends unknown[], R>(fn: (...args: A) => PromiseLike<R> | R): (...args: A) => R {
  checkFunction(fn, 'fn');
  const wrapped = function (this: unknown, ...args: A): R {
    const result = fn.apply(this, args);
    return isThenable(result) ? wait(result as PromiseLike<R>) : (result as R);
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name ? `blocking ${fn.name}` : 'blocking' });
  return wrapped;
}
