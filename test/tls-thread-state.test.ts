import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { spawn, joinAll, Fiber } from '../dist/entries/index.js';
import { runFixture } from './helpers';

const hasSetDefault = typeof (tls as { setDefaultCACertificates?: unknown }).setDefaultCACertificates === 'function';
const hasGetCA = typeof (tls as { getCACertificates?: unknown }).getCACertificates === 'function';

function expected(thread: string): Record<string, unknown> {
  return {
    thread,
    greenletDefaultStore: 'authorized',
    greenletCa: 'authorized',
    greenletHttps: `hello /${thread}-greenlet`,
    greenletFetch: `hello /${thread}-fetch`,
    greenletX509: true,
    greenletRootCertificates: true,
    ...(hasGetCA ? { greenletGetCA: true } : {}),
    greenletSecureContext: 'object',
    mainDefaultStore: 'authorized',
    mainHttps: `hello /${thread}-main`,
    mainFetch: `hello /${thread}-main-fetch`,
    ...(hasSetDefault ? { mainAfterSetDefault: 'authorized', greenletAfterSetDefault: 'authorized', greenletGetCAAfterSetDefault: 1 } : {}),
  };
}

// Node 24 keeps its root certificate store and the flag "cleanup hook registered" per OS thread, and
// a fiber has a thread identity of its own: TLS clients in two fibers aborted the process in
// node::CleanupQueue::Add. The fixture runs tls.connect, https, fetch, X509Certificate,
// getCACertificates and setDefaultCACertificates in greenlets and on the main fiber, then in a worker.
describe('TLS from several fibers of one thread', () => {
  for (const backend of ['tcb', 'thread']) {
    it(`does not crash and shares the thread's default CA store (${backend} backend)`, () => {
      const result = runFixture('tls-thread-state.js', [], {
        timeout: 60_000,
        env: { GREENFIBER_BACKEND: backend, NODE_EXTRA_CA_CERTS: 'test/fixtures/tls/localhost.crt' },
      });
      expect(result.stderr).not.toMatch(/Assertion failed|FAILED/);
      expect(result.signal).toBeNull();
      expect(result.status).toBe(0);
      const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toEqual([expected('main'), expected('worker')]);
    });
  }

  it('a secure context made in a greenlet is not a switch point, and its errors reach the greenlet', () => {
    const order: string[] = [];
    let thrown: unknown;
    const maker = new Fiber(() => {
      order.push('before');
      const context = tls.createSecureContext({});
      order.push(typeof context.context);
      try {
        tls.createSecureContext({ minVersion: 'TLSv0.9' as tls.SecureVersion });
      } catch (error) {
        thrown = error;
      }
      order.push('after');
      return 'done';
    });
    expect(maker.switch()).toBe('done');
    expect(order).toEqual(['before', 'object', 'after']);
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as { code?: string }).code).toBe('ERR_TLS_INVALID_PROTOCOL_VERSION');
  });

  it('greenlets making secure contexts do not interleave inside the call', async () => {
    const order: string[] = [];
    const greenlets = ['a', 'b'].map((name) =>
      spawn(() => {
        order.push(`${name} start`);
        tls.createSecureContext({});
        order.push(`${name} end`);
      }),
    );
    await new Promise<void>((resolve) => spawn(() => resolve(void joinAll(greenlets, { raiseError: true }))));
    expect(order).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('keeps the wrapped functions looking like the originals', () => {
    new Fiber(() => 0).switch(); // the guard is installed with the first fiber
    expect(tls.createSecureContext.name).toBe('createSecureContext');
    expect(tls.createSecureContext.length).toBe(1);
  });
});
