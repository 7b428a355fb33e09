// robots.txt for the crawler, through robots-parser (RFC 9309: the group whose user agent matches
// our product token, else `*`; Allow/Disallow with `*` and `$`, the longest match winning), plus
// the Crawl-delay and Sitemap extensions.
import robotsParser from 'robots-parser';

export interface Robots {
  /** Whether `url` (absolute, on the robots.txt's origin) may be fetched. */
  allows(url: string): boolean;
  /** Crawl-delay of our group, ms; 0 when none. */
  readonly delay: number;
  /** The absolute URLs of the Sitemap lines, in order. */
  readonly sitemaps: readonly string[];
}

export const allowAll: Robots = { allows: () => true, delay: 0, sitemaps: [] };
export const disallowAll: Robots = { allows: () => false, delay: 0, sitemaps: [] };

/**
 * Parses the robots.txt served at `url` for the user agent whose product token is `agent`
 * (e.g. "greenfiber-crawler": matched case-insensitively, a version after `/` ignored).
 */
export function parseRobots(url: string, text: string, agent: string): Robots {
  const robots = robotsParser(url, text);
  const seconds = Number(robots.getCrawlDelay(agent) ?? 0);
  return {
    // undefined: the URL is not on this robots.txt's origin (the crawler never asks that).
    allows: (target) => robots.isAllowed(target, agent) ?? true,
    delay: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0,
    sitemaps: robots.getSitemaps(),
  };
}
