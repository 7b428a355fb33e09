// The crawler's link extraction (htmlparser2) and robots.txt rules (robots-parser), called directly.
import { describe, expect, it } from 'vitest';
import { decodeHtml, extractLinks } from '../examples/links';
import { parseRobots } from '../examples/robots';

const base = 'http://site.test/dir/page';

describe('extractLinks', () => {
  it('keeps a link whose earlier attribute holds ">" (the old scanner dropped it)', () => {
    expect(extractLinks('<a title="1 > 0" href="/x">x</a> <a data-x=\'a>b\' href=y>y</a>', base).links).toEqual(['http://site.test/x', 'http://site.test/dir/y']);
  });

  it('reports no links from raw text: textarea, title, script, style, comments', () => {
    const html = `<textarea><a href="/in-textarea">t</a></textarea><title><a href="/in-title"></title>
      <script>let s = '<a href="/in-script">'</script><style>a[href="/in-style"]{}</style>
      <!-- <a href="/in-comment"> --><a href="/real">real</a>`;
    expect(extractLinks(html, base)).toEqual({ links: ['http://site.test/real'], problems: [] });
  });

  it('decodes entities, resolves against the first <base>, drops fragments, non-http and duplicates', () => {
    const html = `<base href="/other/"><base href="/ignored/"><a href="a?x=1&amp;y=2#frag">1</a><area href="B">
      <a href="a?x=1&amp;y=2">dup</a><a href="mailto:x@y">m</a><a href="javascript:void(0)">j</a><a href="#top">t</a>
      <A HREF="//cdn.test/z">upper case</A>`;
    expect(extractLinks(html, base).links).toEqual(['http://site.test/other/a?x=1&y=2', 'http://site.test/other/B', 'http://site.test/other/', 'http://cdn.test/z']);
  });

  it('reports what is malformed and still returns the links before it', () => {
    expect(extractLinks('<p><a href="/one">1</a> <a href="/two', base)).toEqual({ links: ['http://site.test/one'], problems: ['unterminated tag at the end'] });
    expect(extractLinks('<a href="/one">1</a><!-- <a href="/c">', base)).toEqual({ links: ['http://site.test/one'], problems: ['unterminated comment'] });
    const problems: string[] = [];
    expect(decodeHtml(Buffer.from([0x3c, 0x70, 0x3e, 0xff]), problems)).toBe('<p>\ufffd');
    expect(problems).toEqual(['invalid UTF-8']);
  });
});

describe('parseRobots', () => {
  const text = `User-agent: otherbot
Disallow: /

User-agent: Greenfiber-Crawler
Disallow: /private/
Allow: /private/ok$
Crawl-delay: 0.5

User-agent: *
Disallow: /

Sitemap: http://site.test/sitemap.xml
Sitemap: http://site.test/news.xml
`;

  it('picks our group by product token (case and version ignored), with Allow/Disallow and $', () => {
    for (const agent of ['greenfiber-crawler', 'greenfiber-crawler/0.1']) {
      const robots = parseRobots('http://site.test/robots.txt', text, agent);
      expect(robots.allows('http://site.test/page')).toBe(true);
      expect(robots.allows('http://site.test/private/x')).toBe(false);
      expect(robots.allows('http://site.test/private/ok')).toBe(true);
      expect(robots.allows('http://site.test/private/ok/more')).toBe(false);
      expect(robots.delay).toBe(500);
    }
  });

  it('falls back to the * group, and reads the Sitemap lines', () => {
    const robots = parseRobots('http://site.test/robots.txt', text, 'somebot');
    expect(robots.allows('http://site.test/page')).toBe(false);
    expect(robots.delay).toBe(0);
    expect(robots.sitemaps).toEqual(['http://site.test/sitemap.xml', 'http://site.test/news.xml']);
    // A token that merely contains another group's name does not match it.
    expect(parseRobots('http://site.test/robots.txt', 'User-agent: bot\nDisallow: /\n', 'greenfiber-crawler').allows('http://site.test/a')).toBe(true);
  });
});
