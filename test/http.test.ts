// greenfiber/http: the blocking client on undici, against a local Node http server (loopback only).
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BlockingOnHubError, GreenletExit, joinAll, sleep, spawn, Timeout, withTimeout } from '../dist/entries/index.js';
import { closeAll, get, HttpBadUrlError, HttpBodyTooLargeError, HttpConnectionError, HttpError, HttpTimeoutError, request } from '../dist/entries/http.js';
import { expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

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
        case '/delay':
          setTimeout(() => res.end(url.searchParams.get('n')), 30);
          return;
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
      const greenlets = Array.from({ length: 8 }, (_, i) => spawn(() => get(`${base}/delay?n=${i}`).text()));
      joinAll(greenlets, { raiseError: true });
      expect(greenlets.map((g) => g.value)).toEqual(Array.from({ length: 8 }, (_, i) => String(i)));
      expect(peak).toBe(8);
      peak = 0;
      const capped = Array.from({ length: 6 }, (_, i) => spawn(() => get(`${base}/delay?n=${i}`, { connections: 2 }).text()));
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
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
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
