// The crawler in three styles against one demo site served by a child process, in the same run:
// greenfiber blocking style (examples/crawler.ts itself), async/await with undici and an inline
// p-limit, and Python gevent + requests (when Debian's /usr/bin/python3 has them). Each crawls the
// whole site (~3,300 URLs) with the same concurrency, robots.txt, redirects followed inline, the
// same href extraction and JSON lines written to a file. Prints pages/s, medians (see bench/run.mjs).
// Then the crawl sweep: 10 KB pages from a server process (bench/page-server.mjs), greenfiber
// greenlets with greenfiber/http against async/await workers on undici, at 10, 100 and 1,000 at
// once, each greenfiber backend in its own row, and a longer run at 100 at once for the steady
// state; every measurement is a fresh process (bench/crawl-sweep-child.mjs), the styles taking
// turns so that load drift hits them alike.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const { main } = require('../dist/entries/index.js');
const { closeAll } = require('../dist/entries/http.js');
const { patchAll } = require('../dist/entries/monkey.js');
const { Crawler } = require('../dist-examples/crawler.js');
const { decodeHtml, extractLinks, normalizeUrl } = require('../dist-examples/links.js');
const { parseRobots, allowAll } = require('../dist-examples/robots.js');
const undici = require('undici');

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PY_RUNS = Math.max(3, Math.ceil(RUNS / 2));
const CONCURRENCY = 50;
const MAX_PAGES = 10_000; // more than the site has: every style crawls all of it
const GROUP = `crawl of the demo site (3,000 pages, concurrency ${CONCURRENCY})`;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const emit = (name, runs) => console.log(JSON.stringify({ group: GROUP, name, value: +median(runs).toFixed(1), unit: 'pages/s', runs: runs.map((v) => +v.toFixed(1)) }));
const note = (text) => console.log(JSON.stringify({ group: GROUP, note: text }));
const tmp = mkdtempSync(join(tmpdir(), 'greenfiber-crawl-bench-'));

// The site: a process of its own, so every crawler gets the same server and a core of its own.
// Slow pages answer after 20 ms and the stalled one after 20 ms too (no crawl waits for a timeout).
const server = spawn(process.execPath, [join(root, 'dist-examples', 'demo-site.js'), '--slow-ms', '20', '--stall-ms', '20'], { stdio: ['ignore', 'pipe', 'inherit'] });
const site = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).once('line', resolve);
  server.once('exit', (code) => reject(new Error(`demo site exited (${code})`)));
});

patchAll();

function greenfiberCrawl(out) {
  return main(() => {
    const started = performance.now();
    const stats = new Crawler({ start: [site], concurrency: CONCURRENCY, maxPages: MAX_PAGES, out }).run();
    const seconds = (performance.now() - started) / 1000;
    closeAll(); // the next run opens its own connections, as the others do
    return stats.done / seconds;
  });
}

/** p-limit, inline: runs at most `n` of the functions given at once. */
function pLimit(n) {
  let active = 0;
  const waiting = [];
  const next = () => {
    if (active >= n || waiting.length === 0) return;
    active++;
    const { fn, resolve, reject } = waiting.shift();
    fn()
      .then(resolve, reject)
      .finally(() => {
        active--;
        next();
      });
  };
  return (fn) =>
    new Promise((resolve, reject) => {
      waiting.push({ fn, resolve, reject });
      next();
    });
}

/** The same crawl written with async/await: undici with keep-alive, a concurrency limit, fs.promises. */
async function asyncCrawl(out) {
  const started = performance.now();
  const dispatcher = new undici.Agent();
  const origin = new URL(site).origin;
  const headers = { 'user-agent': 'async-crawler/0.1' };
  const get = async (url) => {
    const response = await undici.request(url, { dispatcher, headers, signal: AbortSignal.timeout(5000) });
    return { status: response.statusCode, headers: response.headers, body: Buffer.from(await response.body.arrayBuffer()) };
  };
  let robots = allowAll;
  const robotsResponse = await get(`${origin}/robots.txt`);
  if (robotsResponse.status < 400) robots = parseRobots(robotsResponse.body.toString(), 'async-crawler');

  // JSON lines, buffered and appended as the greenfiber crawler does.
  await writeFile(out, '');
  let buffer = [];
  let lastFlush = performance.now();
  let writing = Promise.resolve();
  const flush = () => {
    const chunk = buffer.join('');
    buffer = [];
    lastFlush = performance.now();
    writing = writing.then(() => appendFile(out, chunk));
    return writing;
  };

  const limit = pLimit(CONCURRENCY);
  const seen = new Set([site]);
  const pending = new Set();
  let scheduled = 0;
  let done = 0;
  const discover = (url, depth) => {
    if (seen.has(url)) return;
    seen.add(url);
    if (new URL(url).origin !== origin || !robots.allows(url) || scheduled >= MAX_PAGES) return;
    scheduled++;
    const task = limit(() => fetchPage(url, depth));
    pending.add(task);
    task.finally(() => pending.delete(task));
  };
  const fetchPage = async (url, depth) => {
    const record = { url, status: null, depth, bytes: 0, links: 0, time: 0, error: null };
    const began = performance.now();
    try {
      let response;
      for (let current = url, chain = [url]; ; ) {
        response = await get(current);
        record.status = response.status;
        record.bytes = response.body.length;
        const location = response.headers.location;
        if (response.status < 300 || response.status >= 400 || typeof location !== 'string') break;
        const target = normalizeUrl(location, current);
        record.redirectedTo = target;
        if (target === null || chain.includes(target) || chain.length > 5 || seen.has(target) || new URL(target).origin !== origin) break;
        seen.add(target);
        if (!robots.allows(target)) break;
        chain.push(target);
        current = target;
      }
      if (record.status >= 400) record.error = `HTTP ${record.status}`;
      else if (record.status < 300 && /^text\/html/.test(String(response.headers['content-type']))) {
        const problems = [];
        const page = extractLinks(decodeHtml(response.body, problems), record.redirectedTo ?? url);
        record.links = page.links.length;
        for (const link of page.links) discover(link, depth + 1);
      }
    } catch (error) {
      record.error = `${error.name}: ${error.message}`;
    }
    record.time = Math.round((performance.now() - began) * 10) / 10;
    done++;
    buffer.push(`${JSON.stringify(record)}\n`);
    if (buffer.length >= 400 || performance.now() - lastFlush >= 200) await flush();
  };

  scheduled++;
  const first = limit(() => fetchPage(site, 0));
  pending.add(first);
  first.finally(() => pending.delete(first));
  while (pending.size > 0) await Promise.all([...pending]);
  await flush();
  const seconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  return done / seconds;
}

function python() {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import gevent, requests'], { encoding: 'utf8' });
  return probe.status === 0 ? '/usr/bin/python3' : null;
}

function geventCrawl(interpreter, out) {
  return new Promise((resolve, reject) => {
    const child = spawn(interpreter, [join(root, 'bench', 'python', 'crawl_gevent.py'), site, String(CONCURRENCY), String(MAX_PAGES), out], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`gevent crawler exited ${code}`));
      const { pages, seconds } = JSON.parse(stdout.trim().split('\n').pop());
      resolve(pages / seconds);
    });
  });
}

const SWEEP_PAGES = Number(process.env.BENCH_SWEEP_PAGES ?? 4000);
const SWEEP_BACKENDS = ['tcb', 'thread'];
// The sweep's runs are short enough that compiling (TurboFan takes a fifth of either process's CPU
// in a 4,000-page run) weighs on them; one longer run per style shows the steady state.
const STEADY_PAGES = Number(process.env.BENCH_STEADY_PAGES ?? 20_000);

function sweepOnce(base, style, concurrency, backend, pages = SWEEP_PAGES) {
  const child = spawnSync(process.execPath, [join(root, 'bench', 'crawl-sweep-child.mjs'), style, base, String(concurrency), String(pages)], {
    encoding: 'utf8',
    timeout: 5 * 60_000,
    env: { ...process.env, GREENFIBER_BACKEND: backend ?? '' },
  });
  if (child.status !== 0) {
    process.stderr.write(`crawl sweep: ${style} ${backend ?? ''} C=${concurrency} failed (${child.status ?? child.signal})\n${child.stderr}\n`);
    return null;
  }
  return JSON.parse(child.stdout.trim().split('\n').pop()).pagesPerSecond;
}

async function crawlSweep() {
  const pageServer = spawn(process.execPath, [join(root, 'bench', 'page-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const base = await new Promise((resolve, reject) => {
      createInterface({ input: pageServer.stdout }).once('line', resolve);
      pageServer.once('exit', (code) => reject(new Error(`page server exited (${code})`)));
    });
    const sweepGroup = (group, pages, concurrency, rows) => {
      const runs = rows.map(() => []);
      const failed = rows.map(() => false);
      for (let run = 0; run < RUNS; run++) {
        for (let k = 0; k < rows.length; k++) {
          const i = (k + run) % rows.length; // rotate who goes first
          const value = failed[i] ? null : sweepOnce(base, rows[i][1], concurrency, rows[i][2], pages);
          if (value === null) failed[i] = true;
          else runs[i].push(value);
        }
      }
      rows.forEach(([name], i) => {
        if (failed[i]) console.log(JSON.stringify({ group, note: `${name}: a run failed (see stderr); no figure` }));
        else console.log(JSON.stringify({ group, name, value: +median(runs[i]).toFixed(1), unit: 'pages/s', runs: runs[i].map((v) => +v.toFixed(1)) }));
      });
    };
    for (const concurrency of [10, 100, 1000]) {
      const rows = [['async/await', 'async', undefined], ...SWEEP_BACKENDS.map((b) => [`greenfiber, ${b} backend`, 'green', b])];
      sweepGroup(`crawl sweep: ${SWEEP_PAGES} pages of 10 KB, ${concurrency} at once`, SWEEP_PAGES, concurrency, rows);
    }
    sweepGroup(`crawl sweep, steady state: ${STEADY_PAGES} pages of 10 KB, 100 at once`, STEADY_PAGES, 100, [
      ['async/await', 'async', undefined],
      ['greenfiber, tcb backend', 'green', 'tcb'],
    ]);
  } finally {
    pageServer.kill('SIGTERM');
  }
}

try {
  await crawlSweep();
  const green = [];
  const baseline = [];
  await greenfiberCrawl(join(tmp, 'warm-green.jsonl')); // warm up the JIT and both crawlers
  await asyncCrawl(join(tmp, 'warm-async.jsonl'));
  for (let run = 0; run < RUNS; run++) {
    green.push(await greenfiberCrawl(join(tmp, `green-${run}.jsonl`)));
    baseline.push(await asyncCrawl(join(tmp, `async-${run}.jsonl`)));
  }
  emit('greenfiber (blocking style, Pool + Queue + greenfiber/http)', green);
  emit('async/await', baseline);
  const interpreter = python();
  if (interpreter === null) {
    note('gevent: skipped, /usr/bin/python3 cannot import gevent and requests (Debian: apt-get install python3-gevent python3-requests)');
  } else {
    const gevent = [];
    for (let run = 0; run < PY_RUNS; run++) gevent.push(await geventCrawl(interpreter, join(tmp, `gevent-${run}.jsonl`)));
    const version = spawnSync(interpreter, ['-c', 'import sys, gevent, requests; print(sys.version.split()[0], gevent.__version__, requests.__version__)'], { encoding: 'utf8' }).stdout.trim().split(' ');
    emit(`Python ${version[0]} gevent ${version[1]} + requests ${version[2]}`, gevent);
  }
} finally {
  server.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
