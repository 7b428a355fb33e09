// A frontier shared by every crawler given the same Redis server and crawl id, on any machine:
// queue, seen set, leases, page budget and politeness slots live in Redis, and each step that
// reads and writes them is one Lua script (atomic on the server). Driven in blocking style: each
// call parks the calling greenlet on node-redis's promise through greenfiber's wait().
import { createHash, randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { createClient } from '@redis/client';
import { wait } from 'greenfiber';
import type { Frontier, Item, Take } from './frontier';

// Keys (one crawl): frontier (list, LPUSH in, RPOP out: FIFO), seen (set of URLs), leases (zset:
// item -> expiry, Redis time in ms), owners (hash: item -> crawler), done (counter of recorded
// pages), budget (the page budget, set by the first crawler), origins (set), slot:<host>.

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: seen, frontier. ARGV: url1, item1, url2, item2, ... Returns the URLs queued.
const ADD = `local queued = {}
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then redis.call('LPUSH', KEYS[2], ARGV[i + 1]) queued[#queued + 1] = ARGV[i] end
end
return queued`;

// KEYS: frontier, leases, owners, done, budget. ARGV: crawler, lease ms.
// Expired leases go back to the taking end first; then the budget; then a lease on the next page.
const TAKE = `${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, item in ipairs(expired) do
  redis.call('ZREM', KEYS[2], item) redis.call('HDEL', KEYS[3], item) redis.call('RPUSH', KEYS[1], item)
end
local leased = redis.call('ZCARD', KEYS[2])
local budget = tonumber(redis.call('GET', KEYS[5]) or '-1')
local done = tonumber(redis.call('GET', KEYS[4]) or '0')
local item = false
if budget < 0 or done + leased < budget then item = redis.call('RPOP', KEYS[1]) end
local queued = redis.call('LLEN', KEYS[1])
if not item then
  if leased > 0 then return {'wait', queued} end
  return {'done', queued}
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), item)
redis.call('HSET', KEYS[3], item, ARGV[1])
return {'item', queued, item}`;

// KEYS: leases, owners, done. ARGV: crawler, item, '1' if recorded. 0: the lease was no longer ours.
const FINISH = `if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2]) redis.call('HDEL', KEYS[2], ARGV[2])
if ARGV[3] == '1' then redis.call('INCR', KEYS[3]) end
return 1`;

// KEYS: frontier, leases, owners. ARGV: crawler, item... Our leases go back to the taking end.
const RELEASE = `local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[3], ARGV[i]) == ARGV[1] then
    redis.call('ZREM', KEYS[2], ARGV[i]) redis.call('HDEL', KEYS[3], ARGV[i]) redis.call('RPUSH', KEYS[1], ARGV[i]) n = n + 1
  end
end
return n`;

// KEYS: leases, owners. ARGV: crawler, lease ms, item... Extends our leases (a live crawler keeps its pages).
const RENEW = `${NOW}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i]) end
end
return 0`;

// KEYS: slot:<host>. ARGV: delay ms. Reserves the next slot; returns the wait, ms.
const SLOT = `${NOW}
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], slot + delay, 'PX', slot + delay - now + 60000)
return slot - now`;

const sha1 = (script: string) => createHash('sha1').update(script).digest('hex');

export interface RedisFrontierOptions {
  /** `redis://host:port[/db]` (also `rediss://`, with user and password). */
  url: string;
  /** Names the crawl: crawlers with the same server and id share it. */
  crawlId: string;
  /** How long a taken page stays leased before it goes back to the frontier, ms. */
  leaseMs: number;
  /** The page budget, for a crawl this crawler creates (the first crawler's budget holds). */
  maxPages: number;
}

type Client = ReturnType<typeof createClient>;

/** Thrown when the Redis server cannot be reached or answers with an error. */
export class FrontierError extends Error {
  override name = 'FrontierError';
}

export class RedisFrontier implements Frontier {
  readonly shared = true;
  get leaseMs(): number {
    return this.#leaseMs;
  }
  /** Who this crawler is, in the owners hash: host, pid and a random tag. */
  readonly crawler = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  /** Round trips to Redis so far (one per call, each a single command or script). */
  roundTrips = 0;
  /** Leases found expired (and so possibly fetched again elsewhere) when a page was finished. */
  lostLeases = 0;
  readonly maxPages: number;
  readonly #client: Client;
  readonly #key: (name: string) => string;
  readonly #leaseMs: number;
  #queued = 0;

  /** Connects (blocks); throws FrontierError naming the server when it cannot. */
  constructor(options: RedisFrontierOptions) {
    if (!/^[\w.:-]+$/.test(options.crawlId)) throw new TypeError(`Expected a crawl id of letters, digits, '.', ':', '_' or '-' for --crawl-id but received ${JSON.stringify(options.crawlId)}`);
    this.#leaseMs = options.leaseMs;
    // {crawlId} is a Redis Cluster hash tag: every key of one crawl lives on one shard.
    this.#key = (name) => `greenfiber:crawl:{${options.crawlId}}:${name}`;
    let connected = false;
    this.#client = RedisFrontier.#createClient(options.url, () => connected);
    let lastError: Error | null = null;
    this.#client.on('error', (error: Error) => (lastError = error)); // reported by the failing call
    try {
      wait(this.#client.connect());
      connected = true;
    } catch (error) {
      throw new FrontierError(`cannot reach Redis at ${options.url}: ${(lastError ?? (error as Error)).message}`);
    }
    this.#call(() => this.#client.set(this.#key('budget'), String(options.maxPages), { condition: 'NX' }));
    this.maxPages = Number(this.#call(() => this.#client.get(this.#key('budget'))));
  }

  static #createClient(url: string, connected: () => boolean): Client {
    try {
      return createClient({
        url,
        socket: {
          connectTimeout: 5000,
          // Never reached: fail at once. Lost later: retry for ~10 s (a server restarting), then fail.
          reconnectStrategy: (retries, cause) => (!connected() || retries >= 10 ? cause : Math.min(50 * 2 ** retries, 2000)),
        },
      });
    } catch (error) {
      throw new FrontierError(`cannot use ${JSON.stringify(url)} as a Redis URL: ${(error as Error).message}`);
    }
  }

  /** Adds this crawler's origins to the crawl's; returns all of them (the scope of a same-origin crawl). */
  origins(mine: string[]): string[] {
    if (mine.length > 0) this.#call(() => this.#client.sAdd(this.#key('origins'), mine));
    return this.#call(() => this.#client.sMembers(this.#key('origins')));
  }

  add(items: Item[]): string[] {
    if (items.length === 0) return [];
    const args = items.flatMap((item) => [item.url, JSON.stringify([item.depth, item.url])]);
    return this.#script(ADD, [this.#key('seen'), this.#key('frontier')], args) as string[];
  }

  claim(url: string): boolean {
    return this.#call(() => this.#client.sAdd(this.#key('seen'), url)) === 1;
  }

  take(): Take {
    const reply = this.#script(TAKE, ['frontier', 'leases', 'owners', 'done', 'budget'].map(this.#key), [this.crawler, String(this.#leaseMs)]) as [string, number, string?];
    this.#queued = Number(reply[1]);
    if (reply[0] !== 'item') return reply[0] as 'wait' | 'done';
    const [depth, url] = JSON.parse(reply[2]!) as [number, string];
    return { url, depth };
  }

  finish(item: Item, recorded: boolean): void {
    const ours = this.#script(FINISH, ['leases', 'owners', 'done'].map(this.#key), [this.crawler, JSON.stringify([item.depth, item.url]), recorded ? '1' : '0']);
    if (Number(ours) === 0) this.lostLeases++;
  }

  release(items: Item[]): void {
    if (items.length === 0) return;
    this.#script(RELEASE, ['frontier', 'leases', 'owners'].map(this.#key), [this.crawler, ...items.map((item) => JSON.stringify([item.depth, item.url]))]);
  }

  renew(items: Item[]): void {
    if (items.length === 0) return;
    this.#script(RENEW, ['leases', 'owners'].map(this.#key), [this.crawler, String(this.#leaseMs), ...items.map((item) => JSON.stringify([item.depth, item.url]))]);
  }

  slot(host: string, delay: number): number {
    return Number(this.#script(SLOT, [this.#key(`slot:${host}`)], [String(delay)]));
  }

  /** As of the last take(): never blocks. */
  queued(): number {
    return this.#queued;
  }

  recorded(): number {
    return Number(this.#call(() => this.#client.get(this.#key('done'))) ?? 0);
  }

  close(): void {
    if (this.#client.isOpen) wait(this.#client.close());
  }

  /** One round trip; blocks the calling greenlet. */
  #call<T>(command: () => Promise<T>): T {
    this.roundTrips++;
    try {
      return wait(command());
    } catch (error) {
      throw error instanceof FrontierError ? error : new FrontierError(`Redis: ${(error as Error).message}`);
    }
  }

  /** Runs a script by its SHA1, loading it on the first NOSCRIPT (once per server restart). */
  #script(script: string, keys: string[], args: string[]): unknown {
    const sha = sha1(script);
    try {
      return this.#call(() => this.#client.evalSha(sha, { keys, arguments: args }));
    } catch (error) {
      if (!/NOSCRIPT/.test((error as Error).message)) throw error;
      return this.#call(() => this.#client.eval(script, { keys, arguments: args }));
    }
  }
}
