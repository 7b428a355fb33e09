// greenfiber/http: the blocking client on undici, against a local Node http server (loopback only).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blocking, BlockingOnHubError, FiberError, GreenletExit, joinAll, killAll, sleep, spawn, Timeout, withTimeout } from '../dist/entries/index.js';
import { closeAll, get, HttpBadUrlError, HttpBodyTooLargeError, HttpConnectionError, HttpError, HttpTimeoutError, request } from '../dist/entries/http.js';
import { expectNoFiberLeft, inGreenlet, eventually, fds, settledFds } from './greenlet-helpers';
import { closedPort, runFixture } from './helpers';
import { Agent, interceptors, MockAgent, Pool, type Dispatcher } from 'undici';

afterEach(expectNoFiberLeft);

let server: http.Server;
let base: string;
let connections = 0;
let active = 0;
let peak = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      active++;
      peak = Math.max(peak, active);
      const done = (): void => {
        active--;
      };
      res.on('close', done);
      switch (url.pathname) {
        case '/json':
          res.setHeader('content-type', 'application/json');
          res.setHeader('set-cookie', ['a=1', 'b=2']);
          res.end(JSON.stringify({ hello: 'world', method: req.method }));
          return;
        case '/echo':
          res.end(`${req.method} ${req.headers['x-test']} ${Buffer.concat(chunks).toString()}`);
          return;
        case '/redirect':
          res.writeHead(302, { location: '/json' }).end();
          return;
        case '/headers':
          res.end(JSON.stringify(req.rawHeaders));
          return;
        // undici checks headersTimeout and bodyTimeout on a ~1 s tick: these stall for longer.
        case '/slow-headers': {
          const timer = setTimeout(() => res.end('late'), 5000);
          res.on('close', () => clearTimeout(timer));
          return;
        }
        case '/slow-body': {
          res.writeHead(200);
          res.write('start');
          const timer = setTimeout(() => res.end('end'), 5000);
          res.on('close', () => clearTimeout(timer));
          return;
        }
        case '/delay': {
          // With ?of=k: answers once k requests are in progress together (a barrier), so that
          // overlap is shown by events rather than by timing; at most 5 s.
          const of = Number(url.searchParams.get('of') ?? 0);
          const started = Date.now();
          const poll = (): void => {
            if (active >= of || Date.now() - started > 5000) setTimeout(() => res.end(url.searchParams.get('n')), 30);
            else setTimeout(poll, 5);
          };
          poll();
          return;
        }
        case '/big':
          res.writeHead(200, { 'content-length': String(1024 * 1024) });
          for (let i = 0; i < 16; i++) res.write(Buffer.alloc(64 * 1024, 97));
          res.end();
          return;
        case '/chunked':
          res.write(Buffer.alloc(5000, 98));
          res.end(Buffer.alloc(5000, 98));
          return;
        default:
          res.writeHead(404).end('not found');
      }
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  await inGreenlet(() => closeAll());
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function caught(fn: () => unknown): any {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('request / get', () => {
  it('returns { status, headers, body, text(), json() }; any status is a response', async () => {
    await inGreenlet(() => {
      const response = get(`${base}/json`);
      expect(response.status).toBe(200);
      expect(response.ok).toBe(true);
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(Buffer.isBuffer(response.body)).toBe(true);
      expect(response.json()).toEqual({ hello: 'world', method: 'GET' });
      expect(JSON.parse(response.text())).toEqual({ hello: 'world', method: 'GET' });
      const missing = get(`${base}/nowhere`);
      expect([missing.status, missing.ok, missing.text()]).toEqual([404, false, 'not found']);
      const posted = request(`${base}/echo`, { method: 'post', headers: { 'x-test': 'yes' }, body: 'payload' });
      expect(posted.text()).toBe('POST yes payload');
    });
  });

  it('takes headers as an object or as [name, value] pairs (an array, a Headers, a Map; repeated names kept); a bad pair is a TypeError naming it', async () => {
    await inGreenlet(() => {
      const sent = (options: Parameters<typeof get>[1]) => {
        const raw = get(`${base}/headers`, options).json() as string[];
        return Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i].toLowerCase(), raw[2 * i + 1]]).filter(([name]) => name.startsWith('x-') || name === 'accept-encoding');
      };
      expect(sent({ headers: [['x-a', '1'], ['x-b', '2'], ['x-a', '3']] })).toEqual([['x-a', '1'], ['x-b', '2'], ['x-a', '3'], ['accept-encoding', 'gzip, br']]);
      expect(sent({ headers: [['x-one', 'only']] })).toEqual([['x-one', 'only'], ['accept-encoding', 'gzip, br']]);
      expect(sent({ headers: [['Accept-Encoding', 'identity']] })).toEqual([['accept-encoding', 'identity']]);
      expect(sent({ headers: [['x-a', '1']], decompress: false })).toEqual([['x-a', '1']]);
      expect(sent({ headers: { 'x-m': ['1', '2'] } })).toEqual([['x-m', '1'], ['x-m', '2'], ['accept-encoding', 'gzip, br']]);
      // Any iterable of pairs: a WHATWG Headers, a Map (an object spread of them has no entries).
      expect(sent({ headers: new Headers({ 'X-H': '1' }) })).toEqual([['x-h', '1'], ['accept-encoding', 'gzip, br']]);
      expect(sent({ headers: new Headers({ 'accept-encoding': 'identity' }) })).toEqual([['accept-encoding', 'identity']]);
      expect(sent({ headers: new Map([['x-map', 'v']]) })).toEqual([['x-map', 'v'], ['accept-encoding', 'gzip, br']]);
      expect(sent({ headers: new Map([['x-map', 'v']]), decompress: false })).toEqual([['x-map', 'v']]);
      // Redirect hops carry them too.
      expect(get(`${base}/redirect`, { headers: [['x-a', '1']], maxRedirections: 1 }).status).toBe(200);
      for (const bad of [['x-a', '1'], [['x-a']], [['x-a', 1]], [['x-a', '1', 'x-b']], [null], new Set(['x-a']), new Map([['x-a', 2]])]) {
        const error = caught(() => get(`${base}/headers`, { headers: bad as never }));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toMatch(/^Expected a \[name, value\] pair of strings for options\.headers\[\d\] but received /);
      }
    });
  });

  it('sends a URL\'s user:password as Basic authorization (unless headers have one) and shows the password nowhere', async () => {
    const port = await closedPort();
    await inGreenlet(() => {
      const authorization = (response: { json(): unknown }) => {
        const raw = response.json() as string[];
        const at = raw.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization');
        return at < 0 ? undefined : raw[at + 1];
      };
      const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
      const withUser = base.replace('http://', 'http://us%40er:p%3Ass%20w@');
      const response = get(`${withUser}/headers?q=1#f`);
      expect(authorization(response)).toBe(basic('us@er:p:ss w'));
      expect(response.url).toBe(`${base}/headers?q=1#f`);
      expect(authorization(get(new URL(`${base.replace('http://', 'http://ann@')}/headers`)))).toBe(basic('ann:'));
      expect(authorization(get(`${withUser}/headers`, { headers: { Authorization: 'Bearer t' } }))).toBe('Bearer t');
      expect(authorization(get(`${withUser}/headers`, { headers: [['authorization', 'Bearer p']] }))).toBe('Bearer p');
      expect(authorization(get(`${base}/headers`))).toBeUndefined();
      const refused = caught(() => get(`http://u:secret@127.0.0.1:${port}/`));
      expect(refused).toBeInstanceOf(HttpConnectionError);
      expect(refused.message).toContain(`http://127.0.0.1:${port}/`);
      expect(refused.message).not.toContain('secret');
      const bad = caught(() => get('ftp://u:secret@127.0.0.1/'));
      expect(bad).toBeInstanceOf(HttpBadUrlError);
      expect(bad.message).not.toContain('secret');
    });
  });

  it('keeps connections alive in one pool per origin, shared by greenlets', async () => {
    await inGreenlet(() => {
      closeAll();
      const before = connections;
      for (let i = 0; i < 10; i++) expect(get(`${base}/json`).status).toBe(200);
      // The next request may go out before undici has put the first connection back: at most two.
      expect(connections - before).toBeLessThanOrEqual(2);
    });
  });

  it('overlaps requests from many greenlets; `connections` caps the pool', async () => {
    await inGreenlet(() => {
      peak = 0;
      const greenlets = Array.from({ length: 8 }, (_, i) => spawn(() => get(`${base}/delay?n=${i}&of=8`).text()));
      joinAll(greenlets, { raiseError: true });
      expect(greenlets.map((g) => g.value)).toEqual(Array.from({ length: 8 }, (_, i) => String(i)));
      expect(peak).toBe(8);
      peak = 0;
      const capped = Array.from({ length: 6 }, (_, i) => spawn(() => get(`${base}/delay?n=${i}&of=2`, { connections: 2 }).text()));
      joinAll(capped, { raiseError: true });
      expect(peak).toBe(2);
    });
  });

  it('follows redirects only when asked (maxRedirections)', async () => {
    await inGreenlet(() => {
      const manual = get(`${base}/redirect`);
      expect([manual.status, manual.headers.location]).toEqual([302, '/json']);
      expect(get(`${base}/redirect`, { maxRedirections: 3 }).json()).toEqual({ hello: 'world', method: 'GET' });
    });
  });

  it('follows redirects through a dispatcher of your own too; its own redirect interceptor keeps its default', async () => {
    await inGreenlet(() => {
      const agent = new Agent();
      const mock = new MockAgent();
      mock.disableNetConnect();
      mock.get(base).intercept({ path: '/moved' }).reply(301, '', { headers: { location: `${base}/target` } });
      mock.get(base).intercept({ path: '/target' }).reply(200, 'mocked');
      const redirecting = new Agent().compose(interceptors.redirect({ maxRedirections: 2 }));
      try {
        expect(get(`${base}/redirect`, { dispatcher: agent, maxRedirections: 3 }).json()).toEqual({ hello: 'world', method: 'GET' });
        expect(get(`${base}/redirect`, { dispatcher: agent }).status).toBe(302);
        expect(get(`${base}/moved`, { dispatcher: mock, maxRedirections: 1 }).text()).toBe('mocked');
        expect(get(`${base}/redirect`, { dispatcher: redirecting }).json()).toEqual({ hello: 'world', method: 'GET' });
        expect(get(`${base}/redirect`, { dispatcher: redirecting, maxRedirections: 0 }).status).toBe(302);
        // A dispatcher without compose() cannot take the redirect interceptor: a clear error up front.
        const plain = { dispatch: agent.dispatch.bind(agent) } as unknown as Dispatcher;
        expect(get(`${base}/json`, { dispatcher: plain }).json()).toEqual({ hello: 'world', method: 'GET' });
        expect(() => get(`${base}/redirect`, { dispatcher: plain, maxRedirections: 1 })).toThrow(/has no compose\(\).*for options\.maxRedirections but received a number 1/);
      } finally {
        blocking(() => Promise.all([agent.close(), mock.close(), redirecting.close()]))();
      }
    });
  });

  it('reads a large body in chunks with stream: true', async () => {
    await inGreenlet(() => {
      const response = get(`${base}/big`, { stream: true });
      expect(response.status).toBe(200);
      let size = 0;
      let chunks = 0;
      for (const chunk of response) {
        size += chunk.length;
        chunks++;
      }
      expect(size).toBe(1024 * 1024);
      expect(chunks).toBeGreaterThan(1);
      expect(response.read()).toBeNull();
      const rest = get(`${base}/chunked`, { stream: true });
      expect(rest.text()).toBe('b'.repeat(10000));
    });
  });
});

describe('typed errors', () => {
  it('timeouts: headers, body and total, each a HttpTimeoutError with its phase', async () => {
    await inGreenlet(() => {
      const headers = caught(() => get(`${base}/slow-headers`, { headersTimeout: 30 }));
      expect(headers).toBeInstanceOf(HttpTimeoutError);
      expect([headers.code, headers.phase]).toEqual(['GF_ERR_HTTP_TIMEOUT', 'headers']);
      const body = caught(() => get(`${base}/slow-body`, { bodyTimeout: 30 }));
      expect([body.name, body.phase]).toEqual(['HttpTimeoutError', 'body']);
      const total = caught(() => get(`${base}/slow-body`, { timeout: 50 }));
      expect([total.name, total.phase]).toEqual(['HttpTimeoutError', 'total']);
      expect(total).toBeInstanceOf(HttpError);
      expect(get(`${base}/json`).status).toBe(200);
    });
  });

  it('refused connections, bad URLs and oversize bodies', async () => {
    const port = await closedPort();
    await inGreenlet(() => {
      const refused = caught(() => get(`http://127.0.0.1:${port}/`));
      expect(refused).toBeInstanceOf(HttpConnectionError);
      expect(refused.code).toBe('GF_ERR_HTTP_CONNECTION');
      expect(refused.cause.code).toBe('ECONNREFUSED');
      expect(refused.message).toMatch(/connection refused/);
      for (const url of ['not a url', 'ftp://127.0.0.1/', '/relative']) {
        const bad = caught(() => get(url));
        expect(bad).toBeInstanceOf(HttpBadUrlError);
        expect(bad.code).toBe('GF_ERR_HTTP_BAD_URL');
      }
      const declared = caught(() => get(`${base}/big`, { maxBodySize: 1000 }));
      expect(declared).toBeInstanceOf(HttpBodyTooLargeError);
      expect(declared.code).toBe('GF_ERR_HTTP_BODY_TOO_LARGE');
      expect(caught(() => get(`${base}/chunked`, { maxBodySize: 6000 }))).toBeInstanceOf(HttpBodyTooLargeError);
      expect(caught(() => get(`${base}/chunked`, { stream: true, maxBodySize: 6000 }).readAll())).toBeInstanceOf(HttpBodyTooLargeError);
      expect(get(`${base}/chunked`, { maxBodySize: 10000 }).body.length).toBe(10000);
    });
  });

  it('a kill or a greenfiber Timeout passes through as is (not an HttpError) and abandons the request', async () => {
    await inGreenlet(() => {
      const before = active;
      const killed = spawn(() => get(`${base}/slow-headers`));
      sleep(50);
      killed.kill();
      expect(killed.value).toBeInstanceOf(GreenletExit);
      for (const phase of ['/slow-headers', '/slow-body']) {
        const error = caught(() => withTimeout(50, () => get(`${base}${phase}`)));
        expect(error).toBeInstanceOf(Timeout);
        expect(error).not.toBeInstanceOf(HttpError);
      }
      for (let i = 0; i < 100 && active > before; i++) sleep(5);
      expect(active).toBe(before);
    });
  });

  it('outside a greenlet: BlockingOnHubError, and no request is sent', async () => {
    const before = connections;
    expect(() => get(`${base}/json`, { connections: 7 })).toThrow(BlockingOnHubError);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(connections).toBe(before);
  });
});

// Every interruption of a blocking client call gives its connection back: the client's fds and
// the server's connections return to their baseline, and the next call works.
describe('interrupted requests leave no connection behind', () => {
  let stalls: http.Server;
  let stallBase: string;

  beforeAll(async () => {
    stalls = http.createServer((req, res) => {
      req.resume();
      switch (req.url) {
        case '/hang':
          return; // never answers
        case '/hang-body':
          res.writeHead(200);
          res.write('start');
          return; // never ends
        case '/drop':
          res.writeHead(200);
          res.write('start');
          setTimeout(() => res.destroy(), 20);
          return;
        default:
          res.end('ok');
      }
    });
    await new Promise<void>((resolve) => stalls.listen(0, '127.0.0.1', resolve));
    stallBase = `http://127.0.0.1:${(stalls.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    stalls.closeAllConnections();
    await new Promise((resolve) => stalls.close(resolve));
  });

  const serverConnections = (): number => blocking(() => new Promise<number>((resolve, reject) => stalls.getConnections((error, n) => (error ? reject(error) : resolve(n)))))();

  type Interrupter = (call: () => unknown) => unknown;
  const interrupters: Record<string, Interrupter> = {
    'kill()': (call) => {
      const greenlet = spawn(call);
      sleep(50);
      greenlet.kill();
      return greenlet.value;
    },
    'a Timeout': (call) => caught(() => withTimeout(50, call)),
  };
  const calls: Record<string, (extra: object) => unknown> = {
    'get (no headers)': (extra) => get(`${stallBase}/hang`, extra),
    // A request that follows redirects carries its tracker in its options (each hop is a dispatch).
    'get following redirects (no headers)': (extra) => get(`${stallBase}/hang`, { maxRedirections: 2, ...extra }),
    'request POST (no headers)': (extra) => request(`${stallBase}/hang`, { method: 'POST', body: 'x'.repeat(10_000), ...extra }),
    'get (body stalls)': (extra) => get(`${stallBase}/hang-body`, extra),
    'streamed body read()': (extra) => {
      const response = get(`${stallBase}/hang-body`, { stream: true, ...extra });
      response.read();
      return response.read();
    },
  };

  const rows: Array<[string, string]> = [];
  for (const call of Object.keys(calls)) for (const how of [...Object.keys(interrupters), 'its own timeout', 'the peer going away']) rows.push([call, how]);

  it.each(rows)('%s interrupted by %s', async (callName, how) => {
    await inGreenlet(() => {
      closeAll();
      expect(eventually(() => serverConnections() === 0)).toBe(true);
      const baseline = settledFds();
      const call = calls[callName];
      let outcome: unknown;
      if (how === 'its own timeout') {
        outcome = caught(() => call({ timeout: 60 }));
        expect(outcome).toBeInstanceOf(HttpTimeoutError);
        expect((outcome as HttpTimeoutError).phase).toBe('total');
      } else if (how === 'the peer going away') {
        const drop = callName.includes('no headers') ? '/drop-early' : '/drop';
        stalls.once('request', (req: http.IncomingMessage) => {
          if (drop === '/drop-early') setTimeout(() => req.socket.destroy(), 20);
        });
        outcome = caught(() => (callName.startsWith('streamed') ? (() => {
          const response = get(`${stallBase}/drop`, { stream: true });
          for (;;) if (response.read() === null) break;
        })() : callName.includes('no headers') ? call({}) : get(`${stallBase}/drop`)));
        expect(outcome).toBeInstanceOf(HttpError);
      } else {
        outcome = interrupters[how](() => call({}));
        expect(outcome instanceof GreenletExit || outcome instanceof Timeout).toBe(true);
      }
      expect(eventually(() => serverConnections() === 0 && fds() === baseline), `connections ${serverConnections()}, fds +${fds() - baseline}`).toBe(true);
      expect(get(`${stallBase}/ok`).text()).toBe('ok');
      closeAll();
    });
  });

  // A TCP server that accepts and never answers the TLS handshake: an https request to it stays
  // in the connect phase (until connectTimeout, 10 s by default).
  it.each(Object.keys(interrupters).concat('its own timeout').flatMap((how) => [[how, false], [how, true]] as Array<[string, boolean]>))(
    'a request still connecting (TLS handshake stalled), interrupted by %s (following redirects: %s), closes its connection at once',
    async (how, follow) => {
      const silent = net.createServer((socket) => socket.resume());
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const accepted = (): number => blocking(() => new Promise<number>((resolve, reject) => silent.getConnections((error, n) => (error ? reject(error) : resolve(n)))))();
      try {
        await inGreenlet(() => {
          const url = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
          const baseline = settledFds();
          const extra = follow ? { maxRedirections: 2 } : {};
          const outcome = how === 'its own timeout' ? caught(() => get(url, { timeout: 60, ...extra })) : interrupters[how](() => get(url, extra));
          expect(outcome instanceof GreenletExit || outcome instanceof Timeout || outcome instanceof HttpTimeoutError).toBe(true);
          expect(accepted()).toBeLessThanOrEqual(1);
          expect(eventually(() => accepted() === 0)).toBe(true);
          expect(eventually(() => fds() <= baseline)).toBe(true);
          expect(get(`${stallBase}/ok`).text()).toBe('ok');
        });
      } finally {
        silent.close();
      }
    },
  );

  // Requests queued behind a full pool and then given up on stay in undici's queue: undici would
  // open a connection for each in turn (to refuse it), and against a stalled handshake each would
  // stay open until connectTimeout. With nothing left waiting, none is opened and none stays.
  it.each([
    ['a server that answers nothing', 'http'],
    ['a server that stalls the TLS handshake', 'https'],
  ])('requests killed while queued for a full pool, %s: no connection opened for them, none left', async (_, scheme) => {
    let accepted = 0;
    const silent = net.createServer((socket) => {
      accepted++;
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const open = (): number => blocking(() => new Promise<number>((resolve, reject) => silent.getConnections((error, n) => (error ? reject(error) : resolve(n)))))();
    try {
      await inGreenlet(() => {
        const url = `${scheme}://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
        const baseline = settledFds();
        const greenlets = Array.from({ length: 60 }, (_, i) => spawn(() => get(url, { connections: 4, maxRedirections: i % 2 })));
        expect(eventually(() => accepted === 4)).toBe(true);
        sleep(20);
        killAll(greenlets);
        expect(eventually(() => open() === 0)).toBe(true);
        expect(eventually(() => fds() <= baseline)).toBe(true);
        sleep(50); // a connection opened for a queued request would have arrived by now
        expect(accepted).toBe(4);
        expect(open()).toBe(0);
        expect(get(`${stallBase}/ok`, { connections: 4 }).text()).toBe('ok');
      });
    } finally {
      silent.close();
    }
  });

  it('a request interrupted while it waits for a pooled connection opens none, and the pool goes on', async () => {
    await inGreenlet(() => {
      closeAll();
      expect(eventually(() => serverConnections() === 0)).toBe(true);
      const first = spawn(() => caught(() => get(`${stallBase}/hang`, { connections: 1 })));
      expect(eventually(() => serverConnections() === 1)).toBe(true);
      const queued = Array.from({ length: 3 }, () => spawn(() => get(`${stallBase}/ok`, { connections: 1 })));
      sleep(20);
      killAll(queued);
      expect(caught(() => withTimeout(20, () => get(`${stallBase}/ok`, { connections: 1 })))).toBeInstanceOf(Timeout);
      // Its own `timeout` too: it ends while the only connection is still busy (nothing to abort yet).
      const own = caught(() => get(`${stallBase}/ok`, { connections: 1, timeout: 20 }));
      expect(own).toBeInstanceOf(HttpTimeoutError);
      expect(own).toMatchObject({ phase: 'total' });
      expect(first.dead).toBe(false);
      first.kill();
      expect(eventually(() => serverConnections() === 0)).toBe(true);
      expect(get(`${stallBase}/ok`, { connections: 1 }).text()).toBe('ok');
      expect(serverConnections()).toBe(1);
      closeAll();
      expect(eventually(() => serverConnections() === 0)).toBe(true);
    });
  });

  it('closeAll() closes every connection now, busy ones too; their requests fail', async () => {
    await inGreenlet(() => {
      const hanging = Array.from({ length: 3 }, () => spawn(() => caught(() => get(`${stallBase}/hang`))));
      expect(eventually(() => serverConnections() === 3)).toBe(true);
      closeAll();
      joinAll(hanging);
      for (const greenlet of hanging) expect(greenlet.value).toBeInstanceOf(HttpConnectionError);
      expect(eventually(() => serverConnections() === 0)).toBe(true);
      expect(get(`${stallBase}/ok`).text()).toBe('ok');
      closeAll();
    });
  });

  it('a streamed body: per-read timeout keeps it readable; one reader at a time; close() frees the connection', async () => {
    await inGreenlet(() => {
      const response = get(`${stallBase}/hang-body`, { stream: true, readTimeout: 30 });
      expect(response.read()!.toString()).toBe('start');
      const first = caught(() => response.read());
      expect(first).toBeInstanceOf(HttpTimeoutError);
      expect(first.phase).toBe('body');
      expect(caught(() => response.read({ timeout: 10 }))).toBeInstanceOf(HttpTimeoutError);
      const reader = spawn(() => caught(() => response.read({ timeout: 500 })));
      sleep(10);
      expect(caught(() => response.read({ timeout: 500 }))).toBeInstanceOf(FiberError);
      reader.join();
      expect(reader.value).toBeInstanceOf(HttpTimeoutError);
      expect(serverConnections()).toBe(1);
      response.close();
      expect(eventually(() => serverConnections() === 0)).toBe(true);
      expect(response.read()).toBe(null);
    });
  });
});

// An HTTP/2 session carries many requests at once: one of them interrupted must not take the
// others down with it (destroying the session's socket would fail them all with its reason).
describe('requests sharing an HTTP/2 session', () => {
  let h2: http2.Http2SecureServer;
  let h2Base: string;
  let sessions = 0;
  const arrived: string[] = [];
  const held: Array<() => void> = [];
  const tlsDir = path.join(__dirname, 'fixtures', 'tls');

  beforeAll(async () => {
    h2 = http2.createSecureServer({ key: fs.readFileSync(path.join(tlsDir, 'localhost.key')), cert: fs.readFileSync(path.join(tlsDir, 'localhost.crt')) }, (req, res) => {
      arrived.push(req.url);
      if (req.url === '/hang') return; // never answers
      if (req.url.startsWith('/other')) held.push(() => res.end(`ok ${req.url}`));
      else res.end('warm');
    });
    h2.on('session', () => sessions++);
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    h2Base = `https://127.0.0.1:${(h2.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => h2.close(resolve));
  });

  it('a request killed, timed out or cut by a Timeout ends alone; the others on the session go on', async () => {
    await inGreenlet(() => {
      const pool = new Pool(h2Base, { connections: 1, pipelining: 10, allowH2: true, connect: { ca: fs.readFileSync(path.join(tlsDir, 'localhost.crt')) } });
      try {
        expect(get(`${h2Base}/warm`, { dispatcher: pool }).text()).toBe('warm');
        const before = sessions;
        const interrupters: Array<(call: (extra: object) => unknown) => unknown> = [
          (call) => {
            const greenlet = spawn(() => call({}));
            expect(eventually(() => arrived.at(-1) === '/hang')).toBe(true);
            greenlet.kill();
            return greenlet.value;
          },
          (call) => caught(() => call({ timeout: 100 })),
          (call) => caught(() => withTimeout(100, () => call({}))),
        ];
        for (const interrupt of interrupters) {
          arrived.length = 0;
          const others = Array.from({ length: 3 }, (_, i) => spawn(() => get(`${h2Base}/other${i}`, { dispatcher: pool }).text()));
          expect(eventually(() => held.length === 3)).toBe(true);
          const outcome = interrupt((extra) => get(`${h2Base}/hang`, { dispatcher: pool, ...extra }));
          expect(outcome instanceof GreenletExit || outcome instanceof Timeout || outcome instanceof HttpTimeoutError).toBe(true);
          held.splice(0).forEach((answer) => answer());
          joinAll(others);
          expect(others.map((greenlet) => greenlet.value)).toEqual(['ok /other0', 'ok /other1', 'ok /other2']);
        }
        expect(sessions).toBe(before);
      } finally {
        blocking(() => pool.destroy())();
      }
    });
  });
});

describe('compressed bodies', () => {
  let zipped: http.Server;
  let zipBase: string;
  const seen: Array<string | undefined> = [];
  const compressed = new Map<string, Buffer>();
  const page = JSON.stringify({ words: Array.from({ length: 2000 }, (_, i) => `word${i}`) });

  beforeAll(async () => {
    zipped = http.createServer((req, res) => {
      seen.push(req.headers['accept-encoding']);
      const url = new URL(req.url!, 'http://x');
      const encoding = url.searchParams.get('as') ?? 'gzip';
      const size = Number(url.searchParams.get('size') ?? 0);
      // A coded response with no body: ?status=204|304, or ?empty (200, zero bytes).
      const status = Number(url.searchParams.get('status') ?? 200);
      if (status !== 200 || url.searchParams.has('empty')) {
        res.writeHead(status, { 'content-encoding': encoding, ...(status === 200 ? { 'content-length': '0' } : {}) });
        res.end();
        return;
      }
      // ?cut (gzip): the body stops at a flush point, short of the format's trailer (as some servers send).
      if (url.searchParams.has('cut')) {
        const whole = zlib.gzipSync(page);
        const cut = whole.subarray(0, whole.length - 8);
        res.writeHead(200, { 'content-encoding': encoding, 'content-length': String(cut.length) });
        res.end(cut);
        return;
      }
      const key = `${encoding}/${size}`;
      let body = compressed.get(key);
      if (body === undefined) {
        const raw = size > 0 ? Buffer.alloc(size) : Buffer.from(page);
        body = encoding === 'br' ? zlib.brotliCompressSync(raw) : encoding === 'deflate' ? zlib.deflateSync(raw) : zlib.gzipSync(raw);
        compressed.set(key, body);
      }
      res.writeHead(200, { 'content-encoding': encoding, 'content-length': String(body.length), 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => zipped.listen(0, '127.0.0.1', resolve));
    zipBase = `http://127.0.0.1:${(zipped.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    zipped.closeAllConnections();
    await new Promise((resolve) => zipped.close(resolve));
  });

  it('sends Accept-Encoding: gzip, br and decodes gzip, br and deflate by default', async () => {
    await inGreenlet(() => {
      seen.length = 0;
      for (const as of ['gzip', 'br', 'deflate']) {
        const response = get(`${zipBase}/?as=${as}`);
        expect(response.json()).toEqual(JSON.parse(page));
        expect(response.headers['content-encoding']).toBeUndefined();
        expect(response.headers['content-length']).toBeUndefined();
        expect(get(`${zipBase}/?as=${as}`, { stream: true }).text()).toBe(page);
      }
      expect(seen.every((value) => value === 'gzip, br')).toBe(true);
      expect(get(`${zipBase}/`, { headers: { 'Accept-Encoding': 'gzip' } }).text()).toBe(page);
      expect(seen.at(-1)).toBe('gzip');
    });
  });

  it('a coded response without a body (HEAD, 204, 304, empty) is an empty body, not a decoding error', async () => {
    await inGreenlet(() => {
      for (const as of ['gzip', 'br', 'deflate']) {
        const head = request(`${zipBase}/?as=${as}`, { method: 'HEAD' });
        expect([head.status, head.body.length, head.headers['content-encoding']]).toEqual([200, 0, as]);
        // HEAD's content-length is the size a GET would get, not a body to bound.
        expect(request(`${zipBase}/?as=${as}&size=${1 << 20}`, { method: 'HEAD', maxBodySize: 10 }).body.length).toBe(0);
        expect(request(`${zipBase}/?as=${as}`, { method: 'HEAD', stream: true }).readAll().length).toBe(0);
        for (const status of [204, 304]) {
          expect(get(`${zipBase}/?as=${as}&status=${status}`).status).toBe(status);
          expect(get(`${zipBase}/?as=${as}&status=${status}`, { stream: true }).readAll().length).toBe(0);
        }
        expect(get(`${zipBase}/?as=${as}&empty`).body.length).toBe(0);
        expect(get(`${zipBase}/?as=${as}&empty`, { stream: true }).readAll().length).toBe(0);
      }
      // Cut short of the gzip trailer (the deflate data is whole): taken as it stands, as curl does.
      expect(get(`${zipBase}/?as=gzip&cut`).text()).toBe(page);
      expect(get(`${zipBase}/?as=gzip&cut`, { stream: true }).text()).toBe(page);
    });
  });

  it('decompress: false sends no Accept-Encoding and returns the bytes as they came', async () => {
    await inGreenlet(() => {
      const response = get(`${zipBase}/`, { decompress: false });
      expect(seen.at(-1)).toBeUndefined();
      expect(response.headers['content-encoding']).toBe('gzip');
      expect(zlib.gunzipSync(response.body).toString()).toBe(page);
    });
  });

  it('maxBodySize bounds the decoded size: a compression bomb is HttpBodyTooLargeError', async () => {
    await inGreenlet(() => {
      for (const as of ['gzip', 'br']) {
        // 16 MiB of zeros compress to ~16 KiB (gzip) or a few dozen bytes (br).
        const url = `${zipBase}/?as=${as}&size=${16 * 1024 * 1024}`;
        expect(caught(() => get(url, { maxBodySize: 256 * 1024 }))).toBeInstanceOf(HttpBodyTooLargeError);
        expect(caught(() => get(url, { stream: true, maxBodySize: 256 * 1024 }).readAll())).toBeInstanceOf(HttpBodyTooLargeError);
        expect(get(url, { maxBodySize: 16 * 1024 * 1024 }).body.length).toBe(16 * 1024 * 1024);
      }
      closeAll();
    });
  });
});

describe('patched http servers are bounded (fixture)', () => {
  it('handlers of departed clients are killed, threads stay flat, the cap holds, a full line answers 503', () => {
    const result = runFixture('monkey-http-bounded.js', ['400']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'timeouts: headers true request true keepAlive true',
      'impatient: 400 sent, 400 started, 400 released, running 0',
      'threads bounded: true',
      'interruptOnClientGone false: 5 of 5 ran to the end',
      'capped: true peak<=8 true refused 0',
      'full line: true 503s true',
      'fibers left: 0',
    ]);
    expect(result.status).toBe(0);
  });
});

describe('interrupted requests never crash the process when their server goes away (fixture)', () => {
  // 200 requests cut while their server sleeps, then the server's connections go; the top level
  // drives the loop, where a reset socket may emit 'close' before its 'error' (undici used to
  // throw "Cannot read properties of null (reading 'statusCode')" from it and kill the process).
  it.each(['close', 'closeAll', 'serverKilled', 'kill', 'stream'])('%s', (mode) => {
    const result = runFixture('http-interrupt-close.js', [mode, '200']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['interrupted: true', 'sockets back: true', 'ok']);
    expect(result.signal).toBe(null);
    expect(result.status).toBe(0);
  });
});
