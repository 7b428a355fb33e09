// Link extraction for the crawler: the hrefs of <a>, <area> and <base> as an HTML tokenizer
// (htmlparser2) sees them, so quoting, entities, comments and raw-text elements (script, style,
// textarea, title) are the parser's business; what is malformed is reported, never fatal.
import { Parser } from 'htmlparser2';

export interface ExtractedLinks {
  /** Absolute http(s) URLs, normalised (no fragment), each once, in document order. */
  links: string[];
  /** What was wrong with the document, if anything (e.g. "invalid UTF-8", "unterminated tag at the end"). */
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

/** The links of an HTML document at `url`. Never throws. */
export function extractLinks(html: string, url: string): ExtractedLinks {
  const problems: string[] = [];
  const seen = new Set<string>();
  const links: string[] = [];
  let base: string | null = null;
  // The offset of the last character the tokenizer turned into something: a tag cut off at the end
  // of the document is dropped silently (as browsers do), so it shows as characters never covered.
  let covered = -1;
  const parser: Parser = new Parser(
    {
      onopentag(name, attributes) {
        covered = parser.endIndex;
        const href = attributes.href;
        if (href === undefined || (name !== 'a' && name !== 'area' && name !== 'base')) return;
        if (name === 'base') {
          // HTML: only the first <base href> counts.
          base ??= normalizeUrl(href.trim(), url) ?? url;
          return;
        }
        const link = normalizeUrl(href.trim(), base ?? url);
        if (link !== null && !seen.has(link)) {
          seen.add(link);
          links.push(link);
        }
      },
      ontext() {
        covered = parser.endIndex;
      },
      onclosetag(_name, implied) {
        if (!implied) covered = parser.endIndex;
      },
      oncomment() {
        if (!html.slice(parser.startIndex, parser.endIndex + 1).endsWith('-->')) problems.push('unterminated comment');
        covered = html.length - 1;
      },
      onprocessinginstruction() {
        covered = parser.endIndex;
      },
      oncdataend() {
        covered = parser.endIndex;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);
  if (covered < html.length - 1) problems.push('unterminated tag at the end');
  return { links, problems };
}
