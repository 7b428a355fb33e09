// Waiting on anything: wait() (one object), waitAll() and iwait() (many), blocking() (an async
// function made blocking). Objects are promises/thenables or waitables (Greenlet, Event,
// AsyncResult, anything implementing src/waitable.ts).
import { Fiber } from './fiber';
import { liveGreenlets } from './live-greenlets';
import { Waiter } from './waiter';
import { Timeout } from './timeout';
import { isWaitable, kLink, kReady, kResult, kUnlink, type Waitable } from './waitable';

/** Anything wait() accepts. */
export type WaitableLike<T = unknown> = PromiseLike<T> | Waitable<T>;

/** The outcome of every promise we have seen settle, so waiting on it again never parks. */
const settled = new WeakMap<object, { ok: boolean; value: unknown }>();

/** @internal Whether `value` has a callable `then`. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function notWaitable(value: unknown): TypeError {
  const what = value === null ? 'null' : typeof value === 'object' ? `an instance of ${(value as object).constructor?.name ?? 'Object'}` : typeof value;
  return new TypeError(`Expected a Promise, thenable, Greenlet, Event or AsyncResult but received ${what}`);
}

/**
 * Blocks until `object` is ready and returns its value, or throws its error: `await` for code
 * that cannot be async. Accepts a Promise or thenable, a Greenlet, an Event, an AsyncResult or any
 * waitable. With `timeout`, throws a Timeout if it is not ready in time.
 * @throws BlockingOnHubError in a loop callback outside any greenlet; LoopExit at the top level
 *   of a script when nothing could ever settle it.
 */
export function wait<T>(object: WaitableLike<T>, options: { timeout?: number } = {}): T {
  if (isWaitable(object)) {
    if (object[kReady]()) return object[kResult]() as T;
    const waiter = new Waiter<void>();
    const wake = (): void => waiter.switch(undefined);
    object[kLink](wake);
    const timer = Timeout.startNewOrDummy(options.timeout);
    try {
      waiter.get();
    } finally {
      timer.cancel();
      object[kUnlink](wake);
    }
    return object[kResult]() as T;
  }
  if (isThenable(object)) {
    const known = settled.get(object);
    if (known !== undefined) {
      if (known.ok) return known.value as T;
      throw known.value;
    }
    const waiter = new Waiter<T>();
    object.then(
      (value) => {
        settled.set(object, { ok: true, value });
        waiter.switch(value);
      },
      (error: unknown) => {
        settled.set(object, { ok: false, value: error });
        waiter.throw(error);
      },
    );
    const timer = Timeout.startNewOrDummy(options.timeout);
    try {
      return waiter.get();
    } finally {
      timer.cancel();
    }
  }
  throw notWaitable(object);
}

/**
 * Yields each object as it becomes ready (gevent.iwait), those ready already first, in the given
 * order. Stops after `count` objects, or (without an error) once `timeout` ms have passed. Blocks
 * between items. A promise counts as ready once settled; wait(promise) then returns at once.
 */
export function* iwait<O extends WaitableLike<any>>(objects: Iterable<O>, options: { timeout?: number; count?: number } = {}): Generator<O, void, undefined> {
  const list = [...objects];
  for (const object of list) if (!isWaitable(object) && !isThenable(object)) throw notWaitable(object);
  let remaining = Math.min(options.count ?? list.length, list.length);
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
    } else if (settled.has(object)) {
      ready.push(object);
    } else {
      (object as PromiseLike<unknown>).then(
        (value) => {
          settled.set(object, { ok: true, value });
          onReady(object);
        },
        (error: unknown) => {
          settled.set(object, { ok: false, value: error });
          onReady(object);
        },
      );
    }
  }
  let timer: NodeJS.Timeout | undefined;
  if (options.timeout !== undefined && options.timeout !== null && ready.length < remaining) {
    timer = setTimeout(() => {
      expired = true;
      if (waiter !== undefined) {
        const current = waiter;
        waiter = undefined;
        current.switch(undefined);
      }
    }, options.timeout);
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
    if (timer !== undefined) clearTimeout(timer);
    for (const [object, callback] of linked) object[kUnlink](callback);
  }
}

/**
 * Waits for the objects (gevent.wait) and returns those that became ready, in that order; stops
 * after `count` of them or `timeout` ms. Without objects, waits until every other live greenlet
 * has finished. Blocks.
 */
export function waitAll<O extends WaitableLike<any>>(objects?: Iterable<O>, options: { timeout?: number; count?: number } = {}): O[] {
  if (objects === undefined || objects === null) {
    const current = Fiber.current;
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
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
  if (typeof fn !== 'function') throw new TypeError(`Expected a function for fn but received ${fn === null ? 'null' : typeof fn}`);
  const wrapped = function (this: unknown, ...args: A): R {
    const result = fn.apply(this, args);
    return isThenable(result) ? wait(result as PromiseLike<R>) : (result as R);
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name ? `blocking ${fn.name}` : 'blocking' });
  return wrapped;
}
