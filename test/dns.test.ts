// greenfiber/dns: blocking lookup() and resolve*() (loopback only: /etc/hosts and a tiny DNS server
// on 127.0.0.1 made here with dgram).
import * as dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BlockingOnHubError, GreenletExit, joinAll, sleep, spawn, Timeout, withTimeout } from '../dist/entries/index.js';
import * as dns from '../dist/entries/dns.js';
import { expectNoFiberLeft, inGreenlet, caught, fds, settledFds } from './greenlet-helpers';

afterEach(expectNoFiberLeft);

// Answers every A query with 127.0.0.42 (TTL 60) and anything else with NXDOMAIN.
let responder: dgram.Socket;
let servers: string[];

beforeAll(async () => {
  servers = dns.getServers();
  responder = dgram.createSocket('udp4');
  responder.on('message', (query, peer) => {
    let offset = 12;
    while (query[offset] !== 0) offset += query[offset] + 1;
    const question = query.subarray(12, offset + 5);
    const type = query.readUInt16BE(offset + 1);
    const header = Buffer.from(query.subarray(0, 12));
    header.writeUInt16BE(type === 1 ? 0x8180 : 0x8183, 2); // response, recursion; NXDOMAIN otherwise
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(type === 1 ? 1 : 0, 6);
    header.writeUInt32BE(0, 8);
    const answer = type === 1 ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 42]) : Buffer.alloc(0);
    responder.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => responder.bind(0, '127.0.0.1', resolve));
  dns.setServers([`127.0.0.1:${responder.address().port}`]);
});

afterAll(() => {
  dns.setServers(servers);
  responder.close();
});

describe('lookup', () => {
  it('resolves localhost the way the system does, one address or all', async () => {
    await inGreenlet(() => {
      const one = dns.lookup('localhost');
      expect(['127.0.0.1', '::1']).toContain(one.address);
      expect([4, 6]).toContain(one.family);
      expect(dns.lookup('localhost', { family: 4 })).toEqual({ address: '127.0.0.1', family: 4 });
      const all = dns.lookup('localhost', { all: true });
      expect(all.length).toBeGreaterThanOrEqual(1);
      expect(all.map((entry) => entry.address)).toContain(one.address);
      expect(dns.lookup('127.0.0.1')).toEqual({ address: '127.0.0.1', family: 4 });
    });
  });

  it('blocks only the calling greenlet; outside greenlets it is BlockingOnHubError', async () => {
    await inGreenlet(() => {
      const greenlets = Array.from({ length: 5 }, () => spawn(() => dns.lookup('localhost', { family: 4 }).address));
      joinAll(greenlets, { raiseError: true });
      expect(greenlets.map((g) => g.value)).toEqual(Array(5).fill('127.0.0.1'));
    });
    expect(() => dns.lookup('localhost')).toThrow(BlockingOnHubError);
  });
});

describe('resolve*', () => {
  it('queries the configured DNS server', async () => {
    await inGreenlet(() => {
      expect(dns.resolve4('example.test')).toEqual(['127.0.0.42']);
      expect(dns.resolve4('example.test', { ttl: true })).toEqual([{ address: '127.0.0.42', ttl: 60 }]);
      expect(dns.resolve('example.test')).toEqual(['127.0.0.42']);
      expect(dns.resolve('example.test', 'A')).toEqual(['127.0.0.42']);
    });
  });

  it('raises Node\'s DNS error when the server has no answer', async () => {
    await inGreenlet(() => {
      expect(() => dns.resolveMx('example.test')).toThrow(expect.objectContaining({ code: 'ENOTFOUND', syscall: 'queryMx' }));
      expect(() => dns.resolveTxt('example.test')).toThrow(expect.objectContaining({ code: 'ENOTFOUND' }));
    });
  });
});

// An interrupted query gives its socket back: c-ares' UDP socket is closed, fds return to their
// baseline, and the next query works. A silent server on 127.0.0.1 never answers.
describe('interrupted queries', () => {
  let silent: dgram.Socket;
  let silentServer: string;

  beforeAll(async () => {
    silent = dgram.createSocket('udp4');
    silent.on('message', () => {});
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    silentServer = `127.0.0.1:${silent.address().port}`;
  });

  afterAll(() => silent.close());


  const hows: Record<string, (call: (options?: { timeout?: number }) => unknown) => unknown> = {
    'kill()': (call) => {
      const greenlet = spawn(() => call());
      sleep(50);
      greenlet.kill();
      return greenlet.value;
    },
    'a Timeout': (call) => caught(() => withTimeout(50, () => call())),
    'its own timeout': (call) => caught(() => call({ timeout: 50 })),
  };
  const calls: Record<string, (options?: { timeout?: number }) => unknown> = {
    resolve4: (options) => dns.resolve4('example.test', options),
    resolveMx: (options) => dns.resolveMx('example.test', options),
    resolve: (options) => dns.resolve('example.test', 'A', options),
    reverse: (options) => dns.reverse('127.0.0.42', options),
  };
  const rows: Array<[string, string]> = [];
  for (const call of Object.keys(calls)) for (const how of Object.keys(hows)) rows.push([call, how]);

  it.each(rows)('%s interrupted by %s', async (callName, how) => {
    await inGreenlet(() => {
      const working = dns.getServers();
      dns.setServers([silentServer]);
      try {
        const baseline = settledFds();
        const outcome = hows[how](calls[callName]);
        if (how === 'kill()') expect(outcome).toBeInstanceOf(GreenletExit);
        else if (how === 'a Timeout') expect(outcome).toBeInstanceOf(Timeout);
        else expect(outcome).toEqual(expect.objectContaining({ code: 'ETIMEOUT', hostname: expect.any(String) }));
        expect(settledFds()).toBe(baseline);
      } finally {
        dns.setServers(working);
      }
      expect(dns.resolve4('example.test')).toEqual(['127.0.0.42']);
    });
  });

  it('lookup() with a timeout, and killed: the next lookup works', async () => {
    await inGreenlet(() => {
      const greenlet = spawn(() => dns.lookup('localhost', { timeout: 5000 }));
      greenlet.kill();
      expect(greenlet.value).toBeInstanceOf(GreenletExit);
      expect(dns.lookup('localhost', { family: 4, timeout: 5000 })).toEqual({ address: '127.0.0.1', family: 4 });
      expect(() => dns.lookup('localhost', { timeout: 'soon' as unknown as number })).toThrow(TypeError);
    });
  });
});
