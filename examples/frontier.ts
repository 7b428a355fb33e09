// The crawler's frontier: the URLs still to fetch, the set of URLs seen, the page budget and the
// per-host politeness slots. MemoryFrontier keeps them in this process; RedisFrontier
// (redis-frontier.ts) shares them among crawlers. Every method may block the calling greenlet.

/** A URL to fetch and how many links away from a start URL it was found. */
export interface Item {
  url: string;
  depth: number;
}

/** What take() hands out: a page to fetch, or why there is none now. */
export type Take = Item | 'wait' | 'done';

export interface Frontier {
  /** Marks the items' URLs seen and queues those not seen before (in order); returns their URLs. */
  add(items: Item[]): string[];
  /** Marks `url` seen; whether it was new (a redirect target followed in place). */
  claim(url: string): boolean;
  /**
   * Leases the next page. 'wait': nothing to take now but pages in flight (here or in another
   * crawler) may queue more or come back; 'done': the crawl is over (nothing queued and nothing
   * leased, or the page budget is spent).
   */
  take(): Take;
  /** Ends the lease of a taken page: `recorded` it (counts against the budget) or skipped it. */
  finish(item: Item, recorded: boolean): void;
  /** Extends the leases of pages still in flight (a shared frontier; called every leaseMs / 3). */
  renew(items: Item[]): void;
  /** How long a lease lasts, ms; Infinity where leases never expire. */
  readonly leaseMs: number;
  /** Gives leased pages back to the frontier (a crawler stopping with pages unfinished). */
  release(items: Item[]): void;
  /** Reserves the next request slot for `host`, `delay` ms after the last one; returns how long to wait, ms. */
  slot(host: string, delay: number): number;
  /** How many pages are queued (for the progress line and summary; never blocks). */
  queued(): number;
  /** Pages recorded by every crawler of this frontier. */
  recorded(): number;
  /** Whether other crawlers share it: take() may then say 'wait' with nothing in flight here. */
  readonly shared: boolean;
  /** Adds this crawler's start origins to the crawl's; returns all (the scope of a same-origin crawl). */
  origins(mine: string[]): string[];
  close(): void;
}

/** The default: one process's frontier, in memory, breadth-first. */
export class MemoryFrontier implements Frontier {
  readonly shared = false;
  readonly leaseMs = Infinity;
  readonly #queue: Item[] = [];
  #head = 0;
  readonly #seen = new Set<string>();
  readonly #nextSlot = new Map<string, number>();
  #leased = 0;
  #recorded = 0;

  /** `seen` and `queued` come from a resumed crawl; `recorded` pages count against `maxPages`. */
  constructor(readonly maxPages: number, resume?: { seen: Iterable<string>; queued: Item[]; recorded: number }) {
    if (resume !== undefined) {
      for (const url of resume.seen) this.#seen.add(url);
      this.#queue.push(...resume.queued);
      this.#recorded = resume.recorded;
    }
  }

  add(items: Item[]): string[] {
    const queued: string[] = [];
    for (const item of items) {
      if (this.#seen.has(item.url)) continue;
      this.#seen.add(item.url);
      this.#queue.push(item);
      queued.push(item.url);
    }
    return queued;
  }

  origins(mine: string[]): string[] {
    return mine;
  }

  claim(url: string): boolean {
    if (this.#seen.has(url)) return false;
    this.#seen.add(url);
    return true;
  }

  take(): Take {
    if (this.#recorded + this.#leased >= this.maxPages) return this.#leased > 0 ? 'wait' : 'done';
    if (this.#head === this.#queue.length) return this.#leased > 0 ? 'wait' : 'done';
    const item = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined as unknown as Item;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    this.#leased++;
    return item;
  }

  finish(_item: Item, recorded: boolean): void {
    this.#leased--;
    if (recorded) this.#recorded++;
  }

  renew(): void {}

  release(items: Item[]): void {
    this.#leased -= items.length;
    this.#queue.splice(this.#head, 0, ...items);
  }

  slot(host: string, delay: number): number {
    const now = performance.now();
    const slot = Math.max(now, this.#nextSlot.get(host) ?? 0);
    this.#nextSlot.set(host, slot + delay);
    return slot - now;
  }

  queued(): number {
    return this.#queue.length - this.#head;
  }

  recorded(): number {
    return this.#recorded;
  }

  close(): void {}
}
