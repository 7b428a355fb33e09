// A breadth-first web crawler in plain blocking style: a Pool of greenlets fetches pages with
// greenfiber/http, a Queue holds the frontier, and records go out as JSON lines through (patched)
// fs. No async/await anywhere; every wait parks one greenlet and the others go on.
import * as fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { AsyncResult, GreenletExit, Lock, Pool, Queue, sleep } from 'greenfiber';
import { get, HttpConnectionError, HttpTimeoutError, type HttpResponse } from 'greenfiber/http';
import { decodeHtml, extractLinks, normalizeUrl } from './links';
import { allowAll, disallowAll, parseRobots, type Robots } from './robots';

export interface CrawlOptions {
  /** Start URLs (depth 0). */
  start: string[];
  /** The most pages fetched; default 10,000. */
  maxPages?: number;
  /** The deepest link followed (start pages are depth 0); default 20. */
  maxDepth?: number;
  /** Pages fetched at once; default 20. */
  concurrency?: number;
  /** The least time between two requests to one host, ms; default 0. robots.txt Crawl-delay raises it. */
  delay?: number;
  /** The most one request may take, ms; default 5000. */
  timeout?: number;
  /** Redirects followed per page; default 5. */
  maxRedirects?: number;
  /** Follow links to the start URLs' origins only; default true. */
  sameOrigin?: boolean;
  /** Fetch and obey robots.txt; default true. */
  robots?: boolean;
  /** Sent as User-Agent; its first word is the robots.txt product token. */
  userAgent?: string;
  /** A file for the JSON lines (truncated first); null for none. */
  out?: string | null;
  /** Called with each record as it is made. */
  onPage?: (record: PageRecord) => void;
}

/** One line of the output: one page fetched (or tried). */
export interface PageRecord {
  url: string;
  /** The HTTP status of the last response; null when there was none. */
  status: number | null;
  depth: number;
  /** Body size of the last response. */
  bytes: number;
  /** Distinct http(s) links on the page. */
  links: number;
  /** Milliseconds from the first request to the last byte (politeness waits excluded). */
  time: number;
  /** What went wrong, or null. */
  error: string | null;
  /** Where the page's redirects ended, when it redirected. */
  redirectedTo?: string;
}

export interface CrawlStats {
  done: number;
  errors: number;
  inFlight: number;
  queued: number;
  bytes: number;
  byStatus: Record<string, number>;
  /** Errors by kind: timeout, http, connection, redirect-loop, too-many-redirects, malformed-html, interrupted, other. */
  byError: Record<string, number>;
  /** Links not followed: off-site, robots, depth. */
  skipped: { offsite: number; robots: number; depth: number };
  startedAt: number;
  elapsed: number;
  interrupted: boolean;
}

interface Item {
  url: string;
  depth: number;
}

// Wakes the dispatcher: work may have run out, or stop() was called.
const WAKE: Item = { url: '', depth: -1 };

/**
 * A crawl: `run()` blocks (call it in a greenlet, or under main()) until the frontier is empty,
 * maxPages are done, or stop() was called and the pages in flight finished.
 */
export class Crawler {
  readonly options: Required<Omit<CrawlOptions, 'onPage' | 'out'>> & Pick<CrawlOptions, 'onPage' | 'out'>;
  readonly stats: CrawlStats;
  readonly #frontier = new Queue<Item>();
  readonly #pool: Pool;
  readonly #seen = new Set<string>();
  readonly #origins: Set<string>;
  readonly #robots = new Map<string, AsyncResult<Robots>>();
  readonly #nextSlot = new Map<string, number>();
  readonly #agentToken: string;
  readonly #output: JsonLines | null;
  #stopping = false;

  constructor(options: CrawlOptions) {
    this.options = {
      maxPages: 10_000,
      maxDepth: 20,
      concurrency: 20,
      delay: 0,
      timeout: 5000,
      maxRedirects: 5,
      sameOrigin: true,
      robots: true,
      userAgent: 'greenfiber-crawler/0.1 (+https://github.com/greenfiber)',
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
      start: options.start,
    };
    const starts = options.start.map((url) => normalizeUrl(url));
    if (starts.length === 0 || starts.some((url) => url === null)) throw new TypeError(`Expected absolute http(s) start URLs but received ${JSON.stringify(options.start)}`);
    this.#origins = new Set(starts.map((url) => new URL(url!).origin));
    this.#pool = new Pool(this.options.concurrency);
    this.#agentToken = this.options.userAgent.split(/[\s/]/)[0];
    this.#output = options.out ? new JsonLines(options.out) : null;
    this.stats = { done: 0, errors: 0, inFlight: 0, queued: 0, bytes: 0, byStatus: {}, byError: {}, skipped: { offsite: 0, robots: 0, depth: 0 }, startedAt: 0, elapsed: 0, interrupted: false };
    for (const url of starts) this.#discover(url!, 0);
  }

  /** Crawls; blocks until done. Returns the stats. */
  run(graceMs = 5000): CrawlStats {
    const stats = this.stats;
    stats.startedAt = performance.now();
    let started = 0;
    while (started < this.options.maxPages) {
      // Done when nothing is queued and nothing in flight could queue more.
      if (this.#stopping || (stats.inFlight === 0 && this.#frontier.empty())) break;
      const item = this.#frontier.get(); // a page finishing last, or stop(), puts WAKE
      if (item === WAKE) continue;
      stats.queued--;
      if (!this.#allowed(item.url)) {
        stats.skipped.robots++;
        continue;
      }
      this.#pool.waitAvailable(); // blocks while `concurrency` pages are in flight
      if (this.#stopping) {
        stats.queued++;
        break;
      }
      stats.inFlight++;
      started++;
      this.#pool.spawn(() => this.#fetch(item));
    }
    // Let the pages in flight finish (within the grace period once stopped), then give up on them.
    if (!this.#pool.join(this.#stopping ? graceMs : null)) this.#pool.kill();
    this.#output?.flush();
    stats.elapsed = performance.now() - stats.startedAt;
    return stats;
  }

  /**
   * Stops taking new pages; run() returns once those in flight are done (or the grace period
   * passed). Never blocks: callable from a signal handler.
   */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.stats.interrupted = true;
    this.#frontier.put(WAKE);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Queues `url` if it is new, in scope and not too deep. */
  #discover(url: string, depth: number): void {
    if (this.#seen.has(url)) return;
    this.#seen.add(url);
    if (this.options.sameOrigin && !this.#origins.has(new URL(url).origin)) {
      this.stats.skipped.offsite++;
      return;
    }
    if (depth > this.options.maxDepth) {
      this.stats.skipped.depth++;
      return;
    }
    this.stats.queued++;
    this.#frontier.put({ url, depth });
  }

  /** Whether robots.txt of the URL's origin lets us fetch it; the first asker fetches robots.txt, others wait. */
  #allowed(url: string): boolean {
    if (!this.options.robots) return true;
    const origin = new URL(url).origin;
    let robots = this.#robots.get(origin);
    if (robots === undefined) {
      robots = new AsyncResult<Robots>();
      this.#robots.set(origin, robots);
      robots.set(this.#fetchRobots(origin));
    }
    return robots.get().allows(url);
  }

  #fetchRobots(origin: string): Robots {
    try {
      this.#politeness(new URL(origin));
      const response = get(`${origin}/robots.txt`, { timeout: this.options.timeout, maxRedirections: this.options.maxRedirects, headers: { 'user-agent': this.options.userAgent } });
      // RFC 9309: a 4xx means no rules; a server error means "assume everything is disallowed".
      if (response.status >= 500) return disallowAll;
      if (response.status >= 400) return allowAll;
      return parseRobots(response.text(), this.#agentToken);
    } catch {
      return disallowAll;
    }
  }

  /** Blocks until this host may be sent another request. */
  #politeness(url: URL): void {
    const delay = Math.max(this.options.delay, this.#robots.get(url.origin)?.value?.delay ?? 0);
    if (delay <= 0) return;
    const now = performance.now();
    const slot = Math.max(now, this.#nextSlot.get(url.host) ?? 0);
    this.#nextSlot.set(url.host, slot + delay);
    if (slot > now) sleep(slot - now);
  }

  /** Fetches one page (following its redirects), queues its links, records it. Runs in a pool greenlet. */
  #fetch(item: Item): void {
    const record: PageRecord = { url: item.url, status: null, depth: item.depth, bytes: 0, links: 0, time: 0, error: null };
    let kind: string | null = null;
    let started: number | undefined;
    try {
      const chain = [item.url];
      let response: HttpResponse;
      for (let url = item.url; ; ) {
        this.#politeness(new URL(url));
        started ??= performance.now();
        response = get(url, { timeout: this.options.timeout, headers: { 'user-agent': this.options.userAgent } });
        record.status = response.status;
        record.bytes = response.body.length;
        const location = response.headers.location;
        if (response.status < 300 || response.status >= 400 || typeof location !== 'string') break;
        const target = normalizeUrl(location, url);
        if (target === null) break;
        record.redirectedTo = target;
        if (chain.includes(target)) {
          [kind, record.error] = ['redirect-loop', `redirect loop: ${[...chain, target].join(' -> ')}`];
          break;
        }
        if (chain.length > this.options.maxRedirects) {
          [kind, record.error] = ['too-many-redirects', `more than ${this.options.maxRedirects} redirects`];
          break;
        }
        // Follow it here unless it is out of scope or crawled on its own (then it has its own record).
        if (this.#seen.has(target) || (this.options.sameOrigin && !this.#origins.has(new URL(target).origin))) break;
        this.#seen.add(target);
        if (!this.#allowed(target)) {
          this.stats.skipped.robots++;
          break;
        }
        chain.push(target);
        url = target;
      }
      if (record.status !== null && record.status >= 400) {
        [kind, record.error] = ['http', `HTTP ${record.status} ${STATUS_CODES[record.status] ?? ''}`.trim()];
      } else if (record.status !== null && record.status < 300 && /^text\/html|^application\/xhtml/i.test(String(response!.headers['content-type'] ?? ''))) {
        const problems: string[] = [];
        const page = extractLinks(decodeHtml(response!.body, problems), record.redirectedTo ?? record.url);
        problems.push(...page.problems);
        record.links = page.links.length;
        if (problems.length > 0) [kind, record.error] = ['malformed-html', `malformed HTML: ${problems.join(', ')}`];
        for (const link of page.links) this.#discover(link, item.depth + 1);
      }
    } catch (error) {
      if (error instanceof GreenletExit) {
        // Killed: stop() was called and the grace period is over.
        [kind, record.error] = ['interrupted', 'interrupted: not finished within the grace period'];
        this.#record(record, kind, started, false);
        throw error;
      }
      kind = error instanceof HttpTimeoutError ? 'timeout' : error instanceof HttpConnectionError ? 'connection' : 'other';
      record.error = `${(error as Error).name}: ${(error as Error).message}`;
    }
    this.#record(record, kind, started);
  }

  #record(record: PageRecord, kind: string | null, started: number | undefined, mayBlock = true): void {
    const stats = this.stats;
    record.time = started === undefined ? 0 : Math.round((performance.now() - started) * 10) / 10;
    stats.done++;
    stats.inFlight--;
    stats.bytes += record.bytes;
    const status = String(record.status ?? 'none');
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (kind !== null) {
      stats.errors++;
      stats.byError[kind] = (stats.byError[kind] ?? 0) + 1;
    }
    this.options.onPage?.(record);
    this.#output?.write(record, mayBlock);
    if (stats.inFlight === 0 && this.#frontier.empty()) this.#frontier.put(WAKE);
  }
}

/**
 * JSON lines to a file, buffered and appended in chunks with (patched) fs calls: the greenlet
 * that flushes parks while the others go on filling the next chunk.
 */
class JsonLines {
  #buffer: string[] = [];
  #size = 0;
  #lastFlush = performance.now();
  readonly #lock = new Lock();

  constructor(readonly path: string) {
    fs.writeFileSync(path, '');
  }

  /** Buffers a record; flushes (blocking) when enough is buffered, if `mayFlush`. */
  write(record: PageRecord, mayFlush = true): void {
    const line = `${JSON.stringify(record)}\n`;
    this.#buffer.push(line);
    this.#size += line.length;
    if (mayFlush && (this.#size >= 64 * 1024 || performance.now() - this.#lastFlush >= 200)) this.flush();
  }

  /** Appends what is buffered. Blocks (one greenlet at a time). */
  flush(): void {
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer.join('');
    this.#buffer = [];
    this.#size = 0;
    this.#lastFlush = performance.now();
    this.#lock.with(() => fs.appendFileSync(this.path, chunk));
  }
}
