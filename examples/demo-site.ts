// The demo site that `npm run crawl` crawls when given no URL: a deterministic generated site of a
// few thousand interlinked pages with the trouble a crawler meets (broken links, server errors,
// slow and stalled pages, redirects and a redirect loop, robots.txt, non-HTML and malformed pages).
// Plain Node http, no greenfiber: it also serves the benchmarks from a process of its own.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface DemoSiteOptions {
  /** How many /page/N pages; default 3000. */
  pages?: number;
  /** How long the /slow/N pages take to answer, ms; default 150. */
  slowMs?: number;
  /** How long /stall takes to answer, ms (meant to exceed the crawler's timeout); default 60,000. */
  stallMs?: number;
  /** Default 0: a free port. */
  port?: number;
  host?: string;
}

export interface DemoSite {
  /** The start URL: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  readonly port: number;
  readonly pages: number;
  /** Requests served, by path (query excluded). */
  readonly hits: Map<string, number>;
  /** Every request as it arrived: path and time (performance.now()). */
  readonly log: Array<{ path: string; at: number }>;
  /** The most requests the site was answering at once. */
  readonly maxActive: number;
  /** Stops serving; pending slow answers are dropped. Resolves once the server is closed. */
  close(): Promise<void>;
}

/** What the site holds, by rule (the tests and the README rely on these). */
export const special = {
  missing: (n: number) => n % 37 === 5, // links /missing/N: 404
  error: (n: number) => n % 53 === 7, // links /error/N: 500
  redirect: (n: number) => n % 41 === 3, // links /redirect/N: 301 to another page
  slow: (n: number) => n % 61 === 9, // links /slow/N: answers after slowMs
  private: (n: number) => n % 71 === 13, // links /private/N: disallowed by robots.txt
  external: (n: number) => n % 50 === 1, // links another origin
};

export const ROBOTS_TXT = `# The demo site's robots.txt
User-agent: *
Disallow: /private/
Allow: /private/ok$
`;

// A small deterministic PRNG (mulberry32), so every run serves the same site.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'fiber greenlet hub switch yield park queue event lock pool timeout socket request response stack thread isolate loop'.split(' ');

function page(n: number, pages: number, origin: string): string {
  const next = random(n + 1);
  const pick = () => Math.floor(next() * pages);
  const links: string[] = [];
  // A tree (4N+1 … 4N+4) reaches every page; random cross links make it a web.
  for (let child = 4 * n + 1; child <= 4 * n + 4 && child < pages; child++) links.push(`/page/${child}`);
  for (let i = 0; i < 3; i++) links.push(`/page/${pick()}`);
  if (n > 0) links.push(`/page/${(n - 1) >> 2}#parent`);
  // The same pages, spelled every way a crawler must normalise.
  const spelled = [`../page/${pick()}`, `${pick()}`, `${origin}/page/${pick()}`, `/page/${pick()}?#top`];
  links.push(spelled[n % spelled.length]);
  if (special.missing(n)) links.push(`/missing/${n}`);
  if (special.error(n)) links.push(`/error/${n}`);
  if (special.redirect(n)) links.push(`/redirect/${n}`);
  if (special.slow(n)) links.push(`/slow/${n}`);
  if (special.private(n)) links.push(`/private/${n}`);
  if (special.external(n)) links.push(`http://example.invalid/from/${n}`);
  if (n === 2) links.push('mailto:demo@example.invalid', 'javascript:void(0)', '#top', '');
  if (n === 17) links.push('/loop/a');
  if (n === 23) links.push('/stall');
  if (n === 29) links.push('/data.json', '/private/ok');
  if (n === 31) links.push('/broken.html');
  const text = Array.from({ length: 40 }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
  const anchors = links.map((href, i) => `<li><a class="l${i}" href="${href.replace(/&/g, '&amp;')}">link ${i}</a></li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Page ${n}</title>
<style>a[href^="/style"] { color: red }</style></head>
<body><h1 id="top">Page ${n}</h1>
<p>${text}</p>
<p>${text}</p>
<ul>
${anchors}
</ul>
</body></html>
`;
}

function home(): string {
  const links = Array.from({ length: 10 }, (_, i) => `<a href="/page/${i}">page ${i}</a>`).join(' ');
  return `<!doctype html><html><head><title>greenfiber demo site</title></head><body><h1>Demo site</h1><p>${links} <a href='/about'>about (missing)</a></p></body></html>\n`;
}

// Malformed on purpose: unclosed elements, an unquoted and a single-quoted href, a link inside a
// comment and one inside a script (neither is a link), bytes that are not UTF-8, and a tag cut
// off at the end.
const BROKEN = Buffer.concat([
  Buffer.from(`<html><body><p>unclosed <b><i><a href=/page/1>one</a> <a href='/page/2'>two <div <a href="/page/3" >three</a>
<!-- <a href="/in-comment">commented out</a> -->
<script>document.write('<a href="/in-script">scripted</a>')</script>
<p>bad bytes: `),
  Buffer.from([0xff, 0xfe, 0xc3]),
  Buffer.from(`</p><a href="/page/4`),
]);

/** Starts the demo site on 127.0.0.1 (by default on a free port). */
export function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const pages = options.pages ?? 3000;
  const slowMs = options.slowMs ?? 150;
  const stallMs = options.stallMs ?? 60_000;
  const host = options.host ?? '127.0.0.1';
  const hits = new Map<string, number>();
  const log: Array<{ path: string; at: number }> = [];
  let active = 0;
  let maxActive = 0;
  const timers = new Set<NodeJS.Timeout>();
  let origin = '';

  const send = (res: http.ServerResponse, status: number, body: string | Buffer, type = 'text/html; charset=utf-8', headers: http.OutgoingHttpHeaders = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    log.push({ path, at: performance.now() });
    maxActive = Math.max(maxActive, ++active);
    res.once('close', () => active--);
    const [, section, arg] = path.split('/');
    const n = Number(arg);
    const isPage = arg !== undefined && /^\d+$/.test(arg) && n < pages;
    if (path === '/') return send(res, 200, home());
    if (path === '/robots.txt') return send(res, 200, ROBOTS_TXT, 'text/plain');
    if (section === 'page' && isPage) return send(res, 200, page(n, pages, origin));
    if (section === 'redirect' && isPage) return send(res, 301, '', 'text/plain', { location: `/page/${(n * 7 + 11) % pages}` });
    if (path === '/loop/a') return send(res, 302, '', 'text/plain', { location: '/loop/b' });
    if (path === '/loop/b') return send(res, 302, '', 'text/plain', { location: `${origin}/loop/a` });
    if (section === 'error') return send(res, 500, '<h1>Internal Server Error</h1>');
    if (section === 'slow' && isPage) return later(slowMs, () => send(res, 200, page(n, pages, origin)));
    if (path === '/stall') return later(stallMs, () => send(res, 200, '<p>finally</p>'));
    if (path === '/data.json') return send(res, 200, JSON.stringify({ href: '/page/5', note: '<a href="/in-json">not a link</a>' }), 'application/json');
    if (path === '/broken.html') return send(res, 200, BROKEN);
    if (path === '/private/ok') return send(res, 200, '<p>allowed by an Allow rule</p>');
    return send(res, 404, '<h1>Not Found</h1>');
  });
  server.keepAliveTimeout = 30_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      const { port } = server.address() as AddressInfo;
      origin = `http://${host}:${port}`;
      resolve({
        url: `${origin}/`,
        port,
        pages,
        hits,
        log,
        get maxActive() {
          return maxActive;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const timer of timers) clearTimeout(timer);
            timers.clear();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// `node dist-examples/demo-site.js [--pages N] [--port N] [--slow-ms N] [--stall-ms N]`: serves the
// site until SIGTERM/SIGINT, after printing its URL (the benchmarks run it so).
if (require.main === module) {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ options: { pages: { type: 'string' }, port: { type: 'string' }, 'slow-ms': { type: 'string' }, 'stall-ms': { type: 'string' }, host: { type: 'string' } }, strict: true }));
  } catch (error) {
    process.stderr.write(`demo-site: ${(error as Error).message}\nusage: node dist-examples/demo-site.js [--pages N] [--port N] [--slow-ms MS] [--stall-ms MS] [--host HOST]\n`);
    process.exit(2);
  }
  const number = (name: string): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isInteger(value) || value < 0) {
      process.stderr.write(`demo-site: expected an integer >= 0 for --${name} but received ${JSON.stringify(text)}\n`);
      process.exit(2);
    }
    return value;
  };
  startDemoSite({ pages: number('pages'), port: number('port'), slowMs: number('slow-ms'), stallMs: number('stall-ms'), host: values.host }).then((site) => {
    process.stdout.write(`${site.url}\n`);
    const stop = () => void site.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
