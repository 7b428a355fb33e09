// Link extraction for the crawler: a small tolerant scan of HTML for <a>/<area> hrefs (and <base>),
// which skips comments, scripts and styles and reports what is malformed instead of failing.
// No parser dependency: a crawler needs hrefs, not a DOM.

export interface ExtractedLinks {
  /** Absolute http(s) URLs, normalised (no fragment), each once, in document order. */
  links: string[];
  /** What was wrong with the document, if anything (e.g. "invalid UTF-8", "unterminated tag"). */
  problems: string[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

/** Decodes a body as UTF-8, noting (not failing on) invalid bytes. */
export function decodeHtml(body: Uint8Array, problems: string[]): string {
  try {
    return decoder.decode(body);
  } catch {
    problems.push('invalid UTF-8');
    return lenient.decode(body);
  }
}

/** `url` without its fragment (and without an empty `?`); null unless it is http(s). */
export function normalizeUrl(href: string, base?: string | URL): string | null {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.hash = '';
  if (url.search === '') url.search = '';
  return url.href;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

// Text that holds no links: comments, and the contents of script and style elements.
const INERT = /<!--[\s\S]*?(?:-->|$)|<(script|style)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi;
const TAG = /<(a|area|base)\b([^>]*)>/gi;
const HREF = /(?:^|\s)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>`]+))/i;

/** The links of an HTML document at `url`. Never throws. */
export function extractLinks(html: string, url: string): ExtractedLinks {
  const problems: string[] = [];
  if (/<!--(?![\s\S]*-->)/.test(html)) problems.push('unterminated comment');
  const text = html.replace(INERT, ' ');
  if (/<[a-z][^<>]*$/i.test(text)) problems.push('unterminated tag at the end');
  let base = url;
  const seen = new Set<string>();
  const links: string[] = [];
  for (const [, tag, attributes] of text.matchAll(TAG)) {
    const match = HREF.exec(attributes);
    if (match === null) continue;
    const href = decodeEntities((match[1] ?? match[2] ?? match[3]).trim());
    if (tag.toLowerCase() === 'base') {
      base = normalizeUrl(href, url) ?? base;
      continue;
    }
    const link = normalizeUrl(href, base);
    if (link !== null && !seen.has(link)) {
      seen.add(link);
      links.push(link);
    }
  }
  return { links, problems };
}
