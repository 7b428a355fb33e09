// `npm run crawl [-- options] [url...]`: the crawler's command line. With no URL it serves the
// demo site on 127.0.0.1 and crawls that. Progress on a terminal, a summary at the end; Ctrl-C
// stops taking pages, lets those in flight finish (within --grace ms), writes what it has, exits 130.
import { main, wait } from 'greenfiber';
import { closeAll } from 'greenfiber/http';
import { patchAll } from 'greenfiber/monkey';
import { Crawler, type CrawlStats } from './crawler';
import { startDemoSite, type DemoSite } from './demo-site';

// First thing: fs (and the rest) park only the calling greenlet from here on.
patchAll();

const USAGE = `usage: npm run crawl -- [options] [url...]

Crawls breadth-first from the given URLs (same origin by default), or, with none, from a demo site
of a few thousand pages that it serves itself on 127.0.0.1. Writes one JSON line per page.

options:
  --pages N         the most pages to fetch (default 10000)
  --depth N         the deepest link to follow; start pages are depth 0 (default 20)
  --concurrency N   pages fetched at once (default 20)
  --delay MS        the least time between requests to one host (default 0 for the demo site, 100 otherwise)
  --timeout MS      the most one request may take (default 5000)
  --out FILE        where the JSON lines go (default crawl.jsonl; - for stdout)
  --any-origin      follow links to other origins too
  --no-robots       ignore robots.txt
  --grace MS        on Ctrl-C, how long pages in flight may take to finish (default 5000)
  --progress        print progress lines even when stdout is not a terminal
  --demo-pages N    pages of the demo site (default 3000)
  -h, --help        this help
`;

interface Args {
  urls: string[];
  numbers: Record<string, number>;
  flags: Set<string>;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { urls: [], numbers: {}, flags: new Set(), out: 'crawl.jsonl' };
  const numeric = new Set(['--pages', '--depth', '--concurrency', '--delay', '--timeout', '--grace', '--demo-pages']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (numeric.has(arg)) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value < 0) usage(`expected a number >= 0 after ${arg} but received ${JSON.stringify(argv[i])}`);
      args.numbers[arg.slice(2)] = value;
    } else if (arg === '--out') {
      args.out = argv[++i] ?? usage('expected a file after --out');
    } else if (arg === '--any-origin' || arg === '--no-robots' || arg === '--progress') {
      args.flags.add(arg.slice(2));
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-')) {
      usage(`unknown option ${JSON.stringify(arg)}`);
    } else {
      args.urls.push(/^https?:\/\//i.test(arg) ? arg : `http://${arg}`);
    }
  }
  return args;
}

function usage(message: string): never {
  process.stderr.write(`crawl: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function summary(stats: CrawlStats, out: string, site: DemoSite | null): string {
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
  if (site !== null) lines.push(`  (the demo site served ${[...site.hits.values()].reduce((a, b) => a + b, 0)} requests)`);
  return `${lines.join('\n')}\n`;
}

const args = parseArgs(process.argv.slice(2));

void main(() => {
  const site = args.urls.length === 0 ? startDemo(args.numbers['demo-pages']) : null;
  const out = args.out;
  const crawler = new Crawler({
    start: site ? [site.url] : args.urls,
    maxPages: args.numbers.pages,
    maxDepth: args.numbers.depth,
    concurrency: args.numbers.concurrency,
    delay: args.numbers.delay ?? (site ? 0 : 100),
    timeout: args.numbers.timeout,
    sameOrigin: !args.flags.has('any-origin'),
    robots: !args.flags.has('no-robots'),
    out: out === '-' ? null : out,
    onPage: out === '-' ? (record) => process.stdout.write(`${JSON.stringify(record)}\n`) : undefined,
  });

  // Ctrl-C once: stop taking pages, finish those in flight. Twice: leave at once.
  process.on('SIGINT', () => {
    if (crawler.stopping) process.exit(130);
    progress?.clear();
    process.stderr.write(`\ncrawl: stopping; ${crawler.stats.inFlight} pages in flight (Ctrl-C again to quit at once)\n`);
    crawler.stop();
  });
  const progress = args.flags.has('progress') || (process.stdout.isTTY && out !== '-') ? startProgress(crawler) : null;
  const stats = crawler.run(args.numbers.grace ?? 5000);
  progress?.stop();
  process.stdout.write(summary(stats, out, site));
  closeAll();
  site?.close();
  process.exit(stats.interrupted ? 130 : 0);
});

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
