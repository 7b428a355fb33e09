// robots.txt for the crawler (RFC 9309): the group for our user agent (else `*`), Allow/Disallow
// with `*` and `$`, the longest match winning and Allow winning ties; Crawl-delay as an extension.

export interface Robots {
  /** Whether `url` (absolute) may be fetched. */
  allows(url: string): boolean;
  /** Crawl-delay of our group, ms; 0 when none. */
  readonly delay: number;
}

interface Rule {
  allow: boolean;
  pattern: RegExp;
  length: number;
}

export const allowAll: Robots = { allows: () => true, delay: 0 };
export const disallowAll: Robots = { allows: () => false, delay: 0 };

function compile(path: string): RegExp {
  const anchored = path.endsWith('$');
  const body = (anchored ? path.slice(0, -1) : path)
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}${anchored ? '$' : ''}`);
}

/** Parses robots.txt for the user agent whose product token is `agent` (e.g. "greenfiber"). */
export function parseRobots(text: string, agent: string): Robots {
  const token = agent.toLowerCase();
  // Each group: its user agents, its rules, its crawl delay.
  const groups: Array<{ agents: string[]; rules: Rule[]; delay: number }> = [];
  let current: (typeof groups)[number] | null = null;
  let inAgents = false;
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.replace(/#.*/, '').trim();
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'user-agent') {
      if (!inAgents || current === null) {
        current = { agents: [], rules: [], delay: 0 };
        groups.push(current);
      }
      current.agents.push(value.toLowerCase());
      inAgents = true;
      continue;
    }
    inAgents = false;
    if (current === null) continue;
    if ((key === 'allow' || key === 'disallow') && value !== '') {
      current.rules.push({ allow: key === 'allow', pattern: compile(value), length: value.length });
    } else if (key === 'crawl-delay' && Number(value) >= 0) {
      current.delay = Number(value) * 1000;
    }
  }
  const mine = groups.filter((group) => group.agents.some((name) => name !== '*' && token.includes(name)));
  const chosen = mine.length > 0 ? mine : groups.filter((group) => group.agents.includes('*'));
  const rules = chosen.flatMap((group) => group.rules);
  const delay = Math.max(0, ...chosen.map((group) => group.delay));
  return {
    delay,
    allows(url: string): boolean {
      const { pathname, search } = new URL(url);
      const path = pathname + search;
      let best: Rule | undefined;
      for (const rule of rules) {
        if (!rule.pattern.test(path)) continue;
        if (best === undefined || rule.length > best.length || (rule.length === best.length && rule.allow)) best = rule;
      }
      return best?.allow ?? true;
    },
  };
}
