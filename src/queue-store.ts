// How queues store their items: FIFO ring buffer, LIFO stack, binary heap, and PriorityQueue's
// default order. The only thing Queue, LifoQueue and PriorityQueue change.
import { describe } from './linkable';

/** How a queue stores its items: the one thing FIFO, LIFO and priority order change. */
export interface Store<T> {
  readonly length: number;
  push(item: T): void;
  /** Removes and returns the next item (length > 0). */
  take(): T;
  /** The next item, not removed (length > 0). */
  peek(): T;
  /** Puts back an item taken from this store so that take() finds it first again. */
  restore(item: T): void;
}

/** A growable ring buffer: O(1) at both ends. */
export class Deque<T> implements Store<T> {
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  length = 0;

  push(item: T): void {
    if (this.length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.length) & (this.#items.length - 1)] = item;
    this.length++;
  }

  take(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.length--;
    return item;
  }

  peek(): T {
    return this.#items[this.#head] as T;
  }

  restore(item: T): void {
    if (this.length === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.length++;
  }

  #grow(): void {
    const items: (T | undefined)[] = new Array(this.#items.length * 2);
    for (let i = 0; i < this.length; i++) items[i] = this.#items[(this.#head + i) & (this.#items.length - 1)];
    this.#items = items;
    this.#head = 0;
  }
}

export class Stack<T> implements Store<T> {
  readonly #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    return this.#items.pop() as T;
  }

  peek(): T {
    return this.#items[this.#items.length - 1];
  }

  restore(item: T): void {
    this.#items.push(item);
  }
}

/** A binary min-heap under `compare`. Equal items come out in no particular order (as heapq). */
export class Heap<T> implements Store<T> {
  readonly #items: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get length(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const items = this.#items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#compare(item, items[parent]) >= 0) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  take(): T {
    const items = this.#items;
    const top = items[0];
    const last = items.pop() as T;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && this.#compare(items[child + 1], items[child]) < 0) child++;
        if (this.#compare(items[child], last) >= 0) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }

  peek(): T {
    return this.#items[0];
  }

  restore(item: T): void {
    this.push(item);
  }
}

/**
 * PriorityQueue's default order: numbers, bigints and strings naturally (each with its own kind),
 * arrays lexicographically by the same rule (so `[priority, data]` pairs work as in gevent).
 * @throws TypeError for anything else: pass a comparator.
 */
export function naturalOrder(a: unknown, b: unknown): number {
  const ta = typeof a;
  if (ta === typeof b && (ta === 'number' || ta === 'string' || ta === 'bigint')) {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const order = naturalOrder(a[i], b[i]);
      if (order !== 0) return order;
    }
    return a.length - b.length;
  }
  throw new TypeError(
    `PriorityQueue cannot order ${describe(a)} and ${describe(b)} by default (it orders numbers, strings and arrays of them); pass { comparator: (a, b) => … }`,
  );
}
