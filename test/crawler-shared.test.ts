// The crawler past one process: a frontier shared through a real redis-server (started here, on a
// free loopback port, nothing persisted outside a temp dir), leases that bring back a killed
// crawler's pages, Ctrl-C and rerun, and --resume from the output file without Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDemoSite, type DemoSite } from '../examples/demo-site';
import type { PageRecord } from '../examples/crawler';
import { root } from './helpers';

const crawlJs = path.join(root, 'dist-examples', 'crawl.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'greenfiber-crawl-shared-'));
const PAGES = 150;
// Each case runs one to three crawler processes in turn: generous on a loaded machine.
const SLOW = { timeout: 120_000 };

interface Redis {
  url: string;
  process: ChildProcess;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts redis-server on a free loopback port: no RDB, no AOF, its dir a temp dir. Retries a port taken meanwhile. */
async function startRedis(): Promise<Redis> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(tmp, 'redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await new Promise<boolean>((resolve, reject) => {
      let output = '';
      child.on('error', (error) => reject(new Error(`cannot start redis-server (install the Debian package redis-server): ${error.message}`)));
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (/Ready to accept connections/.test(output)) resolve(true);
      });
      child.on('exit', () => resolve(false));
    });
    if (ready) return { url: `redis://127.0.0.1:${port}`, process: child };
    if (attempt === 5) throw new Error('redis-server did not start');
  }
}

interface Crawl {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the crawler; `watch(child, stdout)` sees each chunk of its output. */
function crawl(args: string[], watch?: (child: ChildProcess, stdout: string) => void, started?: (child: ChildProcess) => void): Promise<Crawl> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [crawlJs, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    started?.(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      watch?.(child, stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

function records(...files: string[]): PageRecord[] {
  return files.flatMap((file) => {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as PageRecord);
  });
}

const pathOf = (url: string) => new URL(url).pathname;

/** URLs recorded more than once. */
function repeats(list: PageRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const record of list) counts.set(record.url, (counts.get(record.url) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([url]) => url);
}

/** Every /page/N of the site was recorded (itself, or as a redirect's target followed in place). */
function missingPages(list: PageRecord[]): string[] {
  const fetched = new Set(list.flatMap((r) => [pathOf(r.url), ...(r.redirectedTo && r.status === 200 ? [pathOf(r.redirectedTo)] : [])]));
  return Array.from({ length: PAGES }, (_, n) => `/page/${n}`).filter((page) => !fetched.has(page));
}

/** For crawl()'s `started`: sends `signal` once the site has served `requests` requests (pages surely in flight). */
function signalAfter(requests: number, signal: NodeJS.Signals): (child: ChildProcess) => void {
  return (child) => {
    const poll = setInterval(() => {
      if ([...site.hits.values()].reduce((a, b) => a + b, 0) >= requests) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 1);
    child.on('close', () => clearInterval(poll));
  };
}

let redis: Redis;
let site: DemoSite;
let counter = 0;
const out = () => path.join(tmp, `out-${++counter}.jsonl`);
const common = () => ['--timeout', '1000', '--delay', '0', '--concurrency', '4'];

beforeAll(async () => {
  [redis, site] = await Promise.all([startRedis(), startDemoSite({ pages: PAGES, slowMs: 20, stallMs: 20_000 })]);
});
afterAll(async () => {
  redis?.process.kill('SIGKILL');
  await site?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => site.hits.clear());

describe('a frontier shared through Redis', () => {
  it('--workers 3: three crawler processes fetch every page of the site exactly once, each writing its own file', SLOW, async () => {
    const file = out();
    const result = await crawl(['--frontier', redis.url, '--crawl-id', 'three', '--out', file, '--workers', '3', ...common(), site.url]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const pids = /pids (\d+), (\d+), (\d+)/.exec(result.stdout);
    expect(new Set(pids!.slice(1)).size).toBe(3);
    const files = [1, 2, 3].map((i) => file.replace(/\.jsonl$/, `.${i}.jsonl`));
    const perFile = files.map((f) => records(f).length);
    expect(perFile.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2); // the work was shared
    const all = records(...files);
    expect(repeats(all)).toEqual([]);
    expect(missingPages(all)).toEqual([]);
    // Each process that takes a page reads robots.txt once (one that starts after the others took
    // every page reads none); every other URL was requested once in all.
    expect([...site.hits].filter(([p, count]) => p !== '/robots.txt' && count !== 1)).toEqual([]);
    expect(site.hits.get('/robots.txt')).toBeGreaterThanOrEqual(perFile.filter((n) => n > 0).length);
    expect(site.hits.get('/robots.txt')).toBeLessThanOrEqual(3);
    // Each summary knows the shared total.
    expect(result.stdout.match(/shared: +(\d+) pages recorded/g)).toHaveLength(3);
    expect(Number(/shared: +(\d+) pages recorded/.exec(result.stdout)![1])).toBe(all.length);
  });

  it('a crawler killed with SIGKILL mid-crawl loses nothing: its leases expire and another crawler takes them', SLOW, async () => {
    const [first, second] = [out(), out()];
    const args = ['--frontier', redis.url, '--crawl-id', 'killed', '--lease-ms', '800', ...common(), site.url];
    const killed = await crawl([...args, '--out', first], undefined, signalAfter(60, 'SIGKILL'));
    expect(killed.signal).toBe('SIGKILL');
    const before = records(first);
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(PAGES);
    const rest = await crawl([...args, '--out', second]);
    expect(rest.stderr).toBe('');
    expect(rest.status).toBe(0);
    const after = records(second);
    const all = [...before, ...after];
    expect(missingPages(all)).toEqual([]);
    // Recorded twice: at most the pages the killed crawler had in flight (recorded, not yet acknowledged).
    expect(repeats(all).length).toBeLessThanOrEqual(4);
    expect(repeats(after)).toEqual([]);
  });

  it('Ctrl-C exits 130 with the frontier kept; the same command completes the crawl, with no page recorded twice', SLOW, async () => {
    const file = out();
    const args = ['--frontier', redis.url, '--crawl-id', 'interrupted', '--out', file, ...common(), site.url];
    const stopped = await crawl(args, undefined, signalAfter(40, 'SIGINT'));
    expect(stopped.status).toBe(130);
    expect(stopped.stderr).toMatch(/crawl: stopping/);
    const partial = records(file).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(PAGES);
    const again = await crawl(args);
    expect(again.status).toBe(0);
    const all = records(file);
    expect(all.length).toBeGreaterThan(partial);
    expect(repeats(all)).toEqual([]);
    expect(missingPages(all)).toEqual([]);
    // A third run finds the crawl done and exits 0 at once, recording nothing.
    const done = await crawl(args);
    expect(done.status).toBe(0);
    expect(done.stdout).toMatch(/crawled 0 pages/);
    expect(records(file).length).toBe(all.length);
  });

  it('--pages is one budget for every crawler of the crawl', SLOW, async () => {
    const file = out();
    const result = await crawl(['--frontier', redis.url, '--crawl-id', 'budget', '--out', file, '--workers', '2', '--pages', '50', ...common(), site.url]);
    expect(result.status).toBe(0);
    expect(records(file.replace(/\.jsonl$/, '.1.jsonl'), file.replace(/\.jsonl$/, '.2.jsonl')).length).toBe(50);
  });

  it('--delay spaces the requests to one host across every crawler of the crawl', SLOW, async () => {
    const from = site.log.length;
    const file = out();
    const result = await crawl(['--frontier', redis.url, '--crawl-id', 'polite', '--out', file, '--workers', '2', '--pages', '8', '--delay', '40', '--timeout', '1000', `${site.url}page/7`]);
    expect(result.status).toBe(0);
    const times = site.log.slice(from).filter((hit) => hit.path !== '/robots.txt').map((hit) => hit.at);
    expect(times.length).toBe(8);
    // One 40 ms slot per request to the host, reserved in Redis by whichever process sends it: the
    // eight arrivals span at least 6 slots (the first send may be late for its slot).
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(6 * 40);
    // The host's next free slot is kept in Redis, on Redis's clock (ms), not in either process.
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const [seconds] = await client.time();
      const slot = Number(await client.get(`greenfiber:crawl:{polite}:slot:${new URL(site.url).host}`));
      expect(slot).toBeGreaterThan(Number(seconds) * 1000 - 60_000);
    } finally {
      await client.close();
    }
  });

  it('says what is wrong with its arguments or the server', SLOW, async () => {
    const port = await freePort();
    const cases: Array<[string[], number, RegExp]> = [
      [['--frontier', redis.url, site.url], 2, /--frontier needs --crawl-id/],
      [['--workers', '2', site.url], 2, /--workers needs --frontier/],
      [['--frontier', 'http://127.0.0.1:1', '--crawl-id', 'x', site.url], 2, /expected redis:\/\/host:port\[\/db\] for --frontier but received "http:\/\/127\.0\.0\.1:1"/],
      [['--frontier', redis.url, '--crawl-id', 'a b', site.url], 2, /for --crawl-id but received "a b"/],
      [['--frontier', 'redis://127.0.0.1:x', '--crawl-id', 'x', '--out', out(), site.url], 1, /crawl: cannot use "redis:\/\/127\.0\.0\.1:x" as a Redis URL/],
      [['--frontier', `redis://127.0.0.1:${port}`, '--crawl-id', 'x', '--out', out(), site.url], 1, new RegExp(`crawl: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`)],
      [['--frontier', redis.url, '--crawl-id', 'nobody', '--out', out()], 2, /no URL given, and there is no crawl "nobody"/],
    ];
    const results = await Promise.all(cases.map(([args]) => crawl(args)));
    results.forEach((result, i) => {
      expect(result.stderr).toMatch(cases[i][2]);
      expect(result.status).toBe(cases[i][1]);
    });
  });
});

describe('--resume without Redis', () => {
  it('Ctrl-C, then --resume rebuilds the seen set and frontier from --out and appends: the file holds the whole crawl once', SLOW, async () => {
    const file = out();
    const stopped = await crawl(['--out', file, ...common(), site.url], undefined, signalAfter(40, 'SIGINT'));
    expect(stopped.status).toBe(130);
    const partial = records(file).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(PAGES);
    // A kill mid-write leaves half a line: --resume drops it.
    fs.appendFileSync(file, '{"url":"http://cut');
    const resumed = await crawl(['--out', file, '--resume', ...common(), site.url]);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resumed: +\d+ pages recorded in the whole crawl/);
    const all = records(file);
    expect(all.length).toBe(partial + Number(/crawled (\d+) pages/.exec(resumed.stdout)![1]));
    expect(repeats(all)).toEqual([]);
    expect(missingPages(all)).toEqual([]);
  });

  it('--pages counts the pages of the runs before', SLOW, async () => {
    const file = out();
    const first = await crawl(['--out', file, '--pages', '40', ...common(), site.url]);
    expect(first.status).toBe(0);
    expect(records(file).length).toBe(40);
    const resumed = await crawl(['--out', file, '--pages', '120', '--resume', ...common(), site.url]);
    expect(resumed.status).toBe(0);
    const all = records(file);
    expect(all.length).toBe(120);
    expect(repeats(all)).toEqual([]);
  });
});
