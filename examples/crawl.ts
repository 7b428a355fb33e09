// `npm run crawl [-- options] [url...]`: the crawler's command line. With no URL it serves the
// demo site on 127.0.0.1 and crawls that. Progress on a terminal, a summary at the end; Ctrl-C
// stops taking pages, lets those in flight finish (within --grace ms), writes what it has, exits
// 130, and the same command (with --resume, or a --frontier) goes on from there.
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { main, wait } from 'greenfiber';
import { closeAll } from 'greenfiber/http';
import { patchAll } from 'greenfiber/monkey';
import { Crawler, readCrawlState, type CrawlStats } from './crawler';
import { startDemoSite, type DemoSite } from './demo-site';
import { MemoryFrontier, type Frontier } from './frontier';
import { FrontierError, RedisFrontier } from './redis-frontier';

// First thing: fs (and the rest) park only the calling greenlet from here on.
patchAll();

const USAGE = `usage: npm run crawl -- [options] [url...]

Crawls breadth-first from the given URLs (same origin by default), or, with none, from a demo site
of a few thousand pages that it serves itself on 127.0.0.1. Writes one JSON line per page.

options:
  --pages N         the most pages to record, in the whole crawl (default 10000)
  --depth N         the deepest link to follow; start pages are depth 0 (default 20)
  --concurrency N   pages fetched at once, per process (default 20)
  --delay MS        the least time between requests to one host (default 0 for the demo site, 100 otherwise)
  --timeout MS      the most one request may take (default 5000)
  --out FILE        where the JSON lines go (default crawl.jsonl; - for stdout)
  --any-origin      follow links to other origins too
  --no-robots       ignore robots.txt
  --grace MS        on Ctrl-C, how long pages in flight may take to finish (default 5000)
  --progress        print progress lines even when stdout is not a terminal
  --demo-pages N    pages of the demo site (default 3000)
  --resume          continue the crawl recorded in --out (seen set and frontier rebuilt from it; appends)
  --frontier URL    share the crawl through Redis: redis://host:port[/db]; every crawler given the
                    same server and --crawl-id takes pages from one frontier, on any machine
  --crawl-id NAME   names the shared crawl (required with --frontier)
  --lease-ms MS     a page taken from the shared frontier goes back to it if not recorded
                    within this time (a crawler that died; default 30000)
  --workers N       start N crawler processes on the shared frontier (needs --frontier);
                    worker i writes FILE.i.jsonl for --out FILE.jsonl
  -h, --help        this help
`;

const NUMBERS = ['pages', 'depth', 'concurrency', 'delay', 'timeout', 'grace', 'demo-pages', 'lease-ms', 'workers'] as const;
type NumberOption = (typeof NUMBERS)[number];

interface Args {
  urls: string[];
  numbers: Partial<Record<NumberOption, number>>;
  flags: Set<'any-origin' | 'no-robots' | 'progress' | 'resume'>;
  out: string;
  frontier?: string;
  crawlId?: string;
  /** The command line less --workers and --out: what each worker runs. */
  argv: string[];
}

function parseCommandLine(argv: string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(NUMBERS.map((name) => [name, { type: 'string' as const }])),
        out: { type: 'string' },
        frontier: { type: 'string' },
        'crawl-id': { type: 'string' },
        'any-origin': { type: 'boolean' },
        'no-robots': { type: 'boolean' },
        progress: { type: 'boolean' },
        resume: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    usage((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const numbers: Args['numbers'] = {};
  for (const name of NUMBERS) {
    const text = values[name] as string | undefined;
    if (text === undefined) continue;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < 0) usage(`expected a number >= 0 for --${name} but received ${JSON.stringify(text)}`);
    numbers[name] = value;
  }
  const flags = new Set((['any-origin', 'no-robots', 'progress', 'resume'] as const).filter((name) => values[name] === true));
  const frontier = values.frontier as string | undefined;
  const crawlId = values['crawl-id'] as string | undefined;
  if (frontier !== undefined && !/^rediss?:\/\//.test(frontier)) usage(`expected redis://host:port[/db] for --frontier but received ${JSON.stringify(frontier)}`);
  if (frontier !== undefined && crawlId === undefined) usage('--frontier needs --crawl-id NAME (crawlers with the same server and id share a crawl)');
  if (frontier === undefined && crawlId !== undefined) usage('--crawl-id needs --frontier redis://host:port');
  if (crawlId !== undefined && !/^[\w.:-]+$/.test(crawlId)) usage(`expected letters, digits, '.', ':', '_' or '-' for --crawl-id but received ${JSON.stringify(crawlId)}`);
  if (frontier === undefined && numbers['lease-ms'] !== undefined) usage('--lease-ms needs --frontier (leases are how a shared frontier gets a dead crawler\'s pages back)');
  if (numbers.workers !== undefined && (frontier === undefined || !Number.isInteger(numbers.workers) || numbers.workers < 1)) {
    usage(frontier === undefined ? '--workers needs --frontier (the processes share the crawl through it)' : `expected an integer >= 1 for --workers but received ${numbers.workers}`);
  }
  if (frontier !== undefined && flags.has('resume')) usage('--resume is for crawls without --frontier (a shared frontier keeps its state in Redis: run the same command again)');
  const out = (values.out as string | undefined) ?? 'crawl.jsonl';
  if (flags.has('resume') && out === '-') usage('--resume needs --out FILE (the crawl so far is read from it)');
  const urls = parsed.positionals.map((arg) => (/^https?:\/\//i.test(arg) ? arg : `http://${arg}`));
  // What a worker runs: the same options, its own --out, no --workers.
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [name] = argv[i].split('=');
    if (name === '--workers' || name === '--out') {
      if (!argv[i].includes('=')) i++;
      continue;
    }
    rest.push(argv[i]);
  }
  return { urls, numbers, flags, out, frontier, crawlId, argv: rest };
}

function usage(message: string): never {
  process.stderr.write(`crawl: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function summary(stats: CrawlStats, out: string, site: DemoSite | null, frontier: Frontier): string {
  const seconds = stats.elapsed / 1000;
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([key, count]) => `${key} ×${count}`)
      .join(', ') || 'none';
  const lines = [
    `${stats.interrupted ? 'interrupted: ' : ''}crawled ${stats.done} pages in ${seconds.toFixed(1)} s (${(stats.done / seconds || 0).toFixed(0)} pages/s, ${(stats.bytes / 1e6).toFixed(1)} MB)`,
    `  statuses: ${list(stats.byStatus)}`,
    `  errors:   ${stats.errors} (${list(stats.byError)})`,
    `  skipped:  ${stats.skipped.offsite} off-site, ${stats.skipped.robots} disallowed by robots.txt, ${stats.skipped.depth} too deep; ${stats.queued} left in the queue`,
  ];
  if (out !== '-') lines.push(`  output:   ${out}`);
  if (frontier instanceof RedisFrontier) {
    const perPage = stats.done > 0 ? ` (${(frontier.roundTrips / stats.done).toFixed(1)} a page)` : '';
    const lost = frontier.lostLeases > 0 ? `; ${frontier.lostLeases} leases had expired before the page was recorded (raise --lease-ms)` : '';
    lines.push(`  shared:   ${frontier.recorded()} pages recorded by every crawler of this crawl; ${frontier.roundTrips} Redis round trips from this one${perPage}${lost}`);
  } else if (frontier.recorded() !== stats.done) {
    lines.push(`  resumed:  ${frontier.recorded()} pages recorded in the whole crawl`);
  }
  if (site !== null) lines.push(`  (the demo site served ${[...site.hits.values()].reduce((a, b) => a + b, 0)} requests)`);
  return `${lines.join('\n')}\n`;
}

const args = parseCommandLine(process.argv.slice(2));

if (args.numbers.workers !== undefined) runWorkers(args.numbers.workers);
else void main(crawl);

/** One crawler: this process. */
function crawl(): void {
  const shared = args.frontier !== undefined;
  const site = args.urls.length === 0 && !shared ? startDemo(args.numbers['demo-pages']) : null;
  const out = args.out;
  const maxPages = args.numbers.pages ?? 10_000;
  let frontier: Frontier;
  if (shared) {
    try {
      frontier = new RedisFrontier({ url: args.frontier!, crawlId: args.crawlId!, leaseMs: args.numbers['lease-ms'] ?? 30_000, maxPages });
    } catch (error) {
      if (!(error instanceof FrontierError)) throw error;
      process.stderr.write(`crawl: ${error.message}\n`);
      process.exit(1);
    }
    if (args.urls.length === 0 && frontier.origins([]).length === 0) {
      frontier.close();
      usage(`no URL given, and there is no crawl ${JSON.stringify(args.crawlId)} at ${args.frontier} to join`);
    }
  } else {
    frontier = new MemoryFrontier(maxPages, args.flags.has('resume') ? readCrawlState(out) : undefined);
  }
  const crawler = new Crawler({
    start: site ? [site.url] : args.urls,
    maxPages,
    maxDepth: args.numbers.depth,
    concurrency: args.numbers.concurrency,
    delay: args.numbers.delay ?? (site ? 0 : 100),
    timeout: args.numbers.timeout,
    sameOrigin: !args.flags.has('any-origin'),
    robots: !args.flags.has('no-robots'),
    out: out === '-' ? null : out,
    append: args.flags.has('resume') || shared,
    frontier,
    onPage: out === '-' ? (record) => process.stdout.write(`${JSON.stringify(record)}\n`) : undefined,
  });

  // Ctrl-C once: stop taking pages, finish those in flight. Twice: leave at once.
  process.on('SIGINT', () => {
    if (crawler.stopping) process.exit(130);
    progress?.clear();
    process.stderr.write(`\ncrawl: stopping; ${crawler.stats.inFlight} pages in flight (Ctrl-C again to quit at once)\n`);
    crawler.stop();
  });
  const progress = args.flags.has('progress') || (process.stdout.isTTY && out !== '-' && process.env.GREENFIBER_CRAWL_WORKER === undefined) ? startProgress(crawler) : null;
  const stats = crawler.run(args.numbers.grace ?? 5000);
  progress?.stop();
  process.stdout.write(summary(stats, out, site, frontier));
  frontier.close();
  closeAll();
  site?.close();
  process.exit(stats.interrupted ? 130 : 0);
}

/**
 * `--workers N`: N crawler processes on the shared frontier, each with its own output file. They
 * run in process groups of their own, so a Ctrl-C reaches each once, through this process.
 */
function runWorkers(count: number): void {
  const ext = path.extname(args.out);
  const outOf = (i: number) => (args.out === '-' ? '-' : `${args.out.slice(0, args.out.length - ext.length)}.${i}${ext || '.jsonl'}`);
  const codes: number[] = [];
  let interrupted = false;
  const children = Array.from({ length: count }, (_, index) => {
    const i = index + 1;
    const child = fork(__filename, [...args.argv, '--out', outOf(i)], { detached: true, env: { ...process.env, GREENFIBER_CRAWL_WORKER: String(i) } });
    child.on('exit', (code, signal) => {
      codes.push(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15));
      if (codes.length === count) process.exit(interrupted || codes.includes(130) ? 130 : Math.max(...codes));
    });
    return child;
  });
  process.stdout.write(`crawl: ${count} crawler processes (pids ${children.map((child) => child.pid).join(', ')}) on ${args.frontier} crawl ${JSON.stringify(args.crawlId)}, writing ${outOf(1)} ... ${outOf(count)}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      interrupted = true;
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    });
  }
}

function startDemo(pages: number | undefined): DemoSite {
  const site = wait(startDemoSite({ pages }));
  process.stdout.write(`serving the demo site (${site.pages} pages) at ${site.url}\n`);
  return site;
}

/** A status line: redrawn in place on a terminal, one line a second otherwise. */
function startProgress(crawler: Crawler): { stop(): void; clear(): void } {
  const tty = process.stdout.isTTY === true;
  let last = { at: performance.now(), done: 0 };
  let rate = 0;
  const draw = () => {
    const { stats } = crawler;
    const now = performance.now();
    rate = ((stats.done - last.done) * 1000) / Math.max(1, now - last.at);
    last = { at: now, done: stats.done };
    const line = `crawl: ${stats.done} done | ${stats.queued} queued | ${stats.inFlight} in flight | ${stats.errors} errors | ${rate.toFixed(0)} pages/s`;
    process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const timer = setInterval(draw, tty ? 250 : 1000);
  const clear = () => {
    if (tty) process.stdout.write('\r\x1b[2K');
  };
  return {
    clear,
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}
