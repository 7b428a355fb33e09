// A breadth-first web crawler in plain blocking style: a Pool of greenlets fetches pages with
// greenfiber/http, a Frontier (in memory, or shared through Redis) hands out the pages to fetch,
// and records go out as JSON lines through (patched) fs. No async/await anywhere; every wait
// parks one greenlet and the others go on.
import * as fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { AsyncResult, Event, GreenletExit, Lock, Pool, sleep, spawn } from 'greenfiber';
import { get, HttpConnectionError, HttpTimeoutError, type HttpResponse } from 'greenfiber/http';
import { MemoryFrontier, type Frontier, type Item } from './frontier';
import { decodeHtml, extractLinks, normalizeUrl } from './links';
import { allowAll, disallowAll, parseRobots, type Robots } from './robots';

export interface CrawlOptions {
  /** Start URLs (depth 0). May be empty when a shared frontier already holds a crawl to join. */
  start: string[];
  /** The most pages recorded (by every crawler of a shared frontier); default 10,000. */
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
  /** A file for the JSON lines; null for none. */
  out?: string | null;
  /** Append to `out` instead of truncating it (a resumed crawl). */
  append?: boolean;
  /** Where the pages to fetch come from; default a MemoryFrontier of `maxPages`. */
  frontier?: Frontier;
  /** How often a crawler with nothing to take asks a shared frontier again, ms; default 50 (doubling to 400). */
  pollMs?: number;
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
  /** The links this page put in the frontier (in scope, first seen here): a resumed crawl rebuilds the frontier from them. */
  queued: string[];
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

/**
 * A crawl: `run()` blocks (call it in a greenlet, or under main()) until the frontier says the
 * crawl is done (nothing queued, nothing leased, or the page budget spent), or stop() was called
 * and the pages in flight finished.
 */
export class Crawler {
  readonly options: Required<Omit<CrawlOptions, 'onPage' | 'out' | 'frontier'>> & Pick<CrawlOptions, 'onPage' | 'out'>;
  readonly stats: CrawlStats;
  readonly frontier: Frontier;
  readonly #pool: Pool;
  readonly #starts: string[];
  #origins = new Set<string>();
  // Links out of scope, counted once each in the skipped stats.
  readonly #outOfScope = new Set<string>();
  // Pages taken from the frontier and not finished: given back if the crawl stops without them.
  readonly #leased = new Set<Item>();
  // Set when a page finishes or stop() is called: the dispatcher waits on it for work.
  readonly #wake = new Event();
  readonly #robots = new Map<string, AsyncResult<Robots>>();
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
      append: false,
      pollMs: 50,
      userAgent: 'greenfiber-crawler/0.1 (+https://github.com/greenfiber)',
      ...Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== undefined && key !== 'frontier')),
      start: options.start,
    };
    const starts = options.start.map((url) => normalizeUrl(url));
    if ((starts.length === 0 && options.frontier?.shared !== true) || starts.some((url) => url === null)) {
      throw new TypeError(`Expected absolute http(s) start URLs but received ${JSON.stringify(options.start)}`);
    }
    this.#starts = starts as string[];
    this.frontier = options.frontier ?? new MemoryFrontier(this.options.maxPages);
    this.#pool = new Pool(this.options.concurrency);
    this.#agentToken = this.options.userAgent.split(/[\s/]/)[0];
    this.#output = options.out ? new JsonLines(options.out, this.options.append) : null;
    this.stats = { done: 0, errors: 0, inFlight: 0, queued: 0, bytes: 0, byStatus: {}, byError: {}, skipped: { offsite: 0, robots: 0, depth: 0 }, startedAt: 0, elapsed: 0, interrupted: false };
  }

  /** Crawls; blocks until done. Returns the stats. */
  run(graceMs = 5000): CrawlStats {
    const stats = this.stats;
    stats.startedAt = performance.now();
    this.#origins = new Set(this.frontier.origins(this.#starts.map((url) => new URL(url).origin)));
    this.frontier.add(this.#starts.map((url) => ({ url, depth: 0 })));
    // A live crawler keeps its leases: only a dead one's pages go back to a shared frontier.
    const keeper = Number.isFinite(this.frontier.leaseMs)
      ? spawn(() => {
          for (;;) {
            sleep(this.frontier.leaseMs / 3);
            this.frontier.renew([...this.#leased]);
          }
        })
      : null;
    let idle = 0;
    while (!this.#stopping) {
      this.#pool.waitAvailable(); // blocks while `concurrency` pages are in flight
      if (this.#stopping) break;
      this.#wake.clear();
      const item = this.frontier.take();
      stats.queued = this.frontier.queued();
      if (item === 'done') break;
      if (item === 'wait') {
        // Pages in flight may queue more (here: a page finishing wakes us; elsewhere: ask again).
        this.#wake.wait(this.frontier.shared ? this.options.pollMs * 2 ** Math.min(idle++, 3) : null);
        continue;
      }
      idle = 0;
      if (!this.#allowed(item.url)) {
        stats.skipped.robots++;
        this.frontier.finish(item, false);
        continue;
      }
      stats.inFlight++;
      this.#leased.add(item);
      this.#pool.spawn(() => this.#fetch(item));
    }
    // Let the pages in flight finish (within the grace period once stopped), then give up on them.
    if (!this.#pool.join(this.#stopping ? graceMs : null)) this.#pool.kill();
    keeper?.kill();
    this.#output?.flush();
    // Killed pages go back to the frontier (a shared one: another crawler, or the next run, takes them).
    if (this.#leased.size > 0) this.frontier.release([...this.#leased]);
    stats.queued = this.frontier.queued();
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
    this.#wake.set();
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Whether a link is followed at `depth`; counts those that are not (once each). */
  #inScope(url: string, depth: number): boolean {
    const offsite = this.options.sameOrigin && !this.#origins.has(new URL(url).origin);
    if (!offsite && depth <= this.options.maxDepth) return true;
    if (!this.#outOfScope.has(url)) {
      this.#outOfScope.add(url);
      if (offsite) this.stats.skipped.offsite++;
      else this.stats.skipped.depth++;
    }
    return false;
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
      const url = `${origin}/robots.txt`;
      const response = get(url, { timeout: this.options.timeout, maxRedirections: this.options.maxRedirects, headers: { 'user-agent': this.options.userAgent } });
      // RFC 9309: a 4xx means no rules; a server error means "assume everything is disallowed".
      if (response.status >= 500) return disallowAll;
      if (response.status >= 400) return allowAll;
      return parseRobots(url, response.text(), this.#agentToken);
    } catch {
      return disallowAll;
    }
  }

  /** Blocks until this host may be sent another request (the slots may be shared with other crawlers). */
  #politeness(url: URL): void {
    const delay = Math.max(this.options.delay, this.#robots.get(url.origin)?.value?.delay ?? 0);
    if (delay <= 0) return;
    const wait = this.frontier.slot(url.host, delay);
    if (wait > 0) sleep(wait);
  }

  /** Fetches one page (following its redirects), queues its links, records it. Runs in a pool greenlet. */
  #fetch(item: Item): void {
    const record: PageRecord = { url: item.url, status: null, depth: item.depth, bytes: 0, links: 0, time: 0, error: null, queued: [] };
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
        if ((this.options.sameOrigin && !this.#origins.has(new URL(target).origin)) || !this.frontier.claim(target)) break;
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
        const depth = item.depth + 1;
        record.queued = this.frontier.add(page.links.filter((link) => this.#inScope(link, depth)).map((url) => ({ url, depth })));
      }
    } catch (error) {
      if (error instanceof GreenletExit) {
        // Killed: stop() was called and the grace period is over. A shared frontier gets the page
        // back (run() releases it) for whoever goes on; alone, it is recorded as interrupted.
        if (!this.frontier.shared) {
          [kind, record.error] = ['interrupted', 'interrupted: not finished within the grace period'];
          this.#leased.delete(item);
          this.#record(record, kind, started, false);
          this.frontier.finish(item, true);
        }
        throw error;
      }
      kind = error instanceof HttpTimeoutError ? 'timeout' : error instanceof HttpConnectionError ? 'connection' : 'other';
      record.error = `${(error as Error).name}: ${(error as Error).message}`;
    }
    this.#record(record, kind, started);
    // Shared: the record is in the file before the lease ends, so a crawler killed in between
    // costs a page recorded twice (taken again once its lease expires), never a page lost.
    if (this.frontier.shared) this.#output?.flush();
    this.frontier.finish(item, true);
    this.#leased.delete(item);
    this.stats.inFlight--;
    this.#wake.set();
  }

  #record(record: PageRecord, kind: string | null, started: number | undefined, mayBlock = true): void {
    const stats = this.stats;
    record.time = started === undefined ? 0 : Math.round((performance.now() - started) * 10) / 10;
    stats.done++;
    stats.bytes += record.bytes;
    const status = String(record.status ?? 'none');
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (kind !== null) {
      stats.errors++;
      stats.byError[kind] = (stats.byError[kind] ?? 0) + 1;
    }
    this.options.onPage?.(record);
    this.#output?.write(record, mayBlock);
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

  /** Truncates the file, unless `append`. */
  constructor(
    readonly path: string,
    append: boolean,
  ) {
    if (!append) fs.writeFileSync(path, '');
  }

  /** Buffers a record; flushes (blocking) when enough is buffered, if `mayFlush`. */
  write(record: PageRecord, mayFlush = true): void {
    const line = `${JSON.stringify(record)}\n`;
    this.#buffer.push(line);
    this.#size += line.length;
    if (mayFlush && (this.#size >= 64 * 1024 || performance.now() - this.#lastFlush >= 200)) this.flush();
  }

  /** Appends what is buffered; once it returns, every line written before the call is in the file. Blocks (one greenlet at a time). */
  flush(): void {
    // The buffer is taken under the lock: a greenlet that finds it empty knows the greenlet that
    // took it has finished writing it.
    this.#lock.with(() => {
      if (this.#buffer.length === 0) return;
      const chunk = this.#buffer.join('');
      this.#buffer = [];
      this.#size = 0;
      this.#lastFlush = performance.now();
      fs.appendFileSync(this.path, chunk);
    });
  }
}

/** What a resumed crawl continues from: read from the JSON lines of the crawl so far. */
export interface ResumeState {
  /** Every URL recorded, queued or redirected to. */
  seen: Set<string>;
  /** The pages queued and not recorded yet (and those recorded as interrupted), in the order found. */
  queued: Item[];
  /** Pages recorded (not counting interrupted ones). */
  recorded: number;
}

/**
 * Reads the output of an earlier run of the same crawl. A last line cut off by a kill is dropped
 * from the file (truncated at the last newline), so appending goes on from whole lines.
 */
export function readCrawlState(file: string): ResumeState {
  const state: ResumeState = { seen: new Set(), queued: [], recorded: 0 };
  if (!fs.existsSync(file)) return state;
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) fs.truncateSync(file, Buffer.byteLength(text.slice(0, end)));
  const done = new Set<string>();
  const found: Item[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (line === '') continue;
    let record: PageRecord;
    try {
      record = JSON.parse(line) as PageRecord;
    } catch {
      throw new Error(`${file} is not the output of a crawl (a line is not JSON): ${line.slice(0, 80)}`);
    }
    state.seen.add(record.url);
    if (record.redirectedTo !== undefined) state.seen.add(record.redirectedTo);
    if (record.error?.startsWith('interrupted')) {
      found.push({ url: record.url, depth: record.depth });
      continue;
    }
    done.add(record.url);
    state.recorded++;
    for (const url of record.queued ?? []) {
      state.seen.add(url);
      found.push({ url, depth: record.depth + 1 });
    }
  }
  state.queued = found.filter((item) => !done.has(item.url));
  return state;
}
