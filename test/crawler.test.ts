// examples/crawler.ts, run as `node dist-examples/crawl.js` against the demo site served by this
// process (which counts every request): what is recorded, what is never fetched, limits, Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemoSite, type DemoSite } from '../examples/demo-site';
import { root } from './helpers';
import type { PageRecord } from '../examples/crawler';

const crawlJs = path.join(root, 'dist-examples', 'crawl.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'greenfiber-crawl-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// One output line: the crawler's own type, so the test cannot drift from it.
type Record = PageRecord;

interface Crawl {
  status: number | null;
  stdout: string;
  stderr: string;
  records: Record[];
}

let counter = 0;

/**
 * Runs the crawler with `args` (asynchronously: the site it crawls is served by this process).
 * `during(child, stdout)` is called on each chunk of its output, e.g. to send it a signal.
 */
function crawl(args: string[], during?: (child: ChildProcess, stdout: string) => void, started?: (child: ChildProcess) => void): Promise<Crawl> {
  const out = path.join(tmp, `out-${++counter}.jsonl`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [crawlJs, '--out', out, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    started?.(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      during?.(child, stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      const records = text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record);
      resolve({ status, stdout, stderr, records });
    });
  });
}

const pathOf = (url: string) => new URL(url).pathname;
const byPath = (records: Record[]) => new Map(records.map((r) => [pathOf(r.url), r]));

describe('crawling the demo site', () => {
  let site: DemoSite;
  let result: Crawl;

  beforeAll(async () => {
    site = await startDemoSite({ pages: 300, slowMs: 20, stallMs: 20_000 });
    result = await crawl([site.url, '--concurrency', '8', '--timeout', '1000', '--delay', '0']);
  });
  afterAll(() => site.close());

  it('exits 0, prints the summary, and writes one valid JSON line per page', () => {
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const summary = /crawled (\d+) pages/.exec(result.stdout);
    expect(Number(summary?.[1])).toBe(result.records.length);
    for (const record of result.records) {
      expect(Object.keys(record).filter((key) => key !== 'redirectedTo')).toEqual(['url', 'status', 'depth', 'bytes', 'links', 'time', 'error', 'queued']);
      expect(typeof record.time).toBe('number');
    }
  });

  it('reaches every page breadth-first and fetches each URL exactly once', () => {
    const pages = byPath(result.records);
    expect(pages.get('/')?.depth).toBe(0);
    expect(pages.get('/page/0')?.depth).toBe(1);
    const fetched = new Set(result.records.flatMap((r) => [pathOf(r.url), ...(r.redirectedTo && r.status === 200 ? [pathOf(r.redirectedTo)] : [])]));
    for (let n = 0; n < 300; n++) expect(fetched.has(`/page/${n}`), `/page/${n}`).toBe(true);
    const repeated = [...site.hits].filter(([, count]) => count !== 1);
    expect(repeated).toEqual([]);
    // Breadth-first: the first page of each depth comes after the first of the depth above.
    const firsts = [0, 1, 2, 3, 4].map((depth) => result.records.findIndex((r) => r.depth === depth));
    expect(firsts.every((index, i) => index >= 0 && (i === 0 || index > firsts[i - 1]))).toBe(true);
  });

  it('obeys robots.txt: fetched once, disallowed URLs never requested, Allow honoured', () => {
    expect(site.hits.get('/robots.txt')).toBe(1);
    expect([...site.hits.keys()].filter((p) => p.startsWith('/private/'))).toEqual(['/private/ok']);
    expect(/(\d+) disallowed by robots.txt/.exec(result.stdout)?.[1]).not.toBe('0');
  });

  it('records HTTP errors, redirects, the redirect loop, the timeout and malformed HTML, and goes on', () => {
    const pages = byPath(result.records);
    expect(pages.get('/missing/5')).toMatchObject({ status: 404, error: 'HTTP 404 Not Found' });
    expect(pages.get('/error/7')).toMatchObject({ status: 500, error: 'HTTP 500 Internal Server Error' });
    expect(pages.get('/about')).toMatchObject({ status: 404 });
    const redirect = pages.get('/redirect/3')!;
    expect(redirect.redirectedTo).toMatch(/\/page\/32$/);
    expect([200, 301]).toContain(redirect.status);
    expect(pages.get('/loop/a')!.error).toMatch(/^redirect loop: .*\/loop\/a -> .*\/loop\/b -> .*\/loop\/a$/);
    expect(pages.get('/stall')).toMatchObject({ status: null });
    expect(pages.get('/stall')!.error).toMatch(/^HttpTimeoutError: .*timed out after 1000 ms/);
    expect(pages.get('/slow/9')).toMatchObject({ status: 200, error: null });
    // Malformed, but its two well-formed links are followed; none inside a comment, script or JSON.
    // `<div <a href="/page/3" >` is a div with an attribute named `<a` (as a browser parses it), not a link.
    expect(pages.get('/broken.html')).toMatchObject({ status: 200, links: 2, error: 'malformed HTML: invalid UTF-8, unterminated tag at the end' });
    expect(pages.get('/data.json')).toMatchObject({ status: 200, links: 0, error: null });
    for (const never of ['/in-comment', '/in-script', '/in-json', '/page/4"']) expect(site.hits.has(never), never).toBe(false);
    // Off-site links are skipped, never requested.
    expect(Number(/(\d+) off-site/.exec(result.stdout)?.[1])).toBeGreaterThan(0);
    expect(result.records.every((r) => r.url.startsWith(site.url))).toBe(true);
    expect(result.stdout).toMatch(/errors: +\d+ \(.*http ×\d+.*\)/);
  });
});

describe('limits', () => {
  let site: DemoSite;
  beforeAll(async () => {
    site = await startDemoSite({ pages: 300, slowMs: 20 });
  });
  afterAll(() => site.close());

  it('--pages, --depth and --concurrency bound the crawl', async () => {
    const result = await crawl([site.url, '--pages', '40', '--depth', '2', '--concurrency', '3', '--delay', '0']);
    expect(result.status).toBe(0);
    expect(result.records.length).toBe(40);
    expect(Math.max(...result.records.map((r) => r.depth))).toBeLessThanOrEqual(2);
    expect(Number(/(\d+) left in the queue/.exec(result.stdout)?.[1])).toBeGreaterThan(0);
    expect(site.maxActive).toBeLessThanOrEqual(3);
  });

  it('--delay spaces the requests to one host', async () => {
    const from = site.log.length;
    const result = await crawl([`${site.url}page/7`, '--pages', '8', '--delay', '30', '--concurrency', '4']);
    expect(result.status).toBe(0);
    const times = site.log.slice(from).filter((hit) => hit.path !== '/robots.txt').map((hit) => hit.at);
    expect(times.length).toBe(8);
    // The crawler gives each request to the host a 30 ms slot; a greenlet woken late for its slot
    // sends late (so one gap can be short on a loaded machine), but the slots themselves span
    // 7 × 30 ms: the arrivals span that, less one slot for a late first send. Without the delay
    // eight requests at concurrency 4 take a few milliseconds.
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(6 * 30);
  });

  it('rejects an unknown option with the usage and exit code 2', async () => {
    const result = await crawl(['--bogus']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage: npm run crawl/);
  });
});

describe('Ctrl-C', () => {
  let site: DemoSite;
  beforeAll(async () => {
    site = await startDemoSite({ pages: 3000, slowMs: 20 });
  });
  afterEach(() => site.hits.clear());
  afterAll(() => site.close());

  it('stops taking pages, finishes those in flight, writes what it has and exits 130', async () => {
    let sent = false;
    const result = await crawl([site.url, '--delay', '5', '--concurrency', '6', '--progress'], (child, stdout) => {
      if (!sent && /\d+ done/.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(result.status).toBe(130);
    expect(result.stderr).toMatch(/crawl: stopping; \d+ pages in flight/);
    const done = Number(/interrupted: crawled (\d+) pages/.exec(result.stdout)?.[1]);
    expect(done).toBe(result.records.length);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(3000);
    // Every page requested was finished and recorded (none was cut off); a redirect followed in
    // place (the demo site's are one hop, and the loop is found after one) costs one more request.
    const requested = [...site.hits].filter(([p]) => p !== '/robots.txt').reduce((sum, [, count]) => sum + count, 0);
    const hops = result.records.filter((r) => r.redirectedTo !== undefined && (r.status! < 300 || r.error?.startsWith('redirect loop'))).length;
    expect(result.records.length + hops).toBe(requested);
    expect(result.records.every((r) => r.error === null || !r.error.startsWith('interrupted'))).toBe(true);
  });

  it('records the pages still in flight after the grace period as interrupted', async () => {
    const result = await crawl([`${site.url}stall`, '--timeout', '60000', '--grace', '200', '--delay', '0'], undefined, (child) => {
      const poll = setInterval(() => {
        if (site.hits.has('/stall')) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 10);
      child.on('close', () => clearInterval(poll));
    });
    expect(result.status).toBe(130);
    expect(result.records).toEqual([expect.objectContaining({ status: null, error: 'interrupted: not finished within the grace period' })]);
    expect(result.stdout).toMatch(/interrupted: crawled 1 pages/);
  });
});
