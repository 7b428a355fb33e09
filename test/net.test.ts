// greenfiber/net: blocking sockets and StreamServer (gevent.socket, gevent.server.StreamServer).
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { blocking, spawn, joinAll, sleep, BlockingOnHubError, Event, GreenletExit, Timeout, withTimeout } from '../dist/entries/index.js';
import { connect, IncompleteReadError, Socket, SocketClosedError, SocketTimeoutError, StreamServer } from '../dist/entries/net.js';
import { expectNoFiberLeft, inGreenlet, caught, eventually, fds, settledFds } from './greenlet-helpers';
import { closedPort, runFixture } from './helpers';

afterEach(expectNoFiberLeft);

/** An echo StreamServer on a free loopback port, stopped after `fn`. */
function withEcho<T>(fn: (port: number) => T, options = {}): T {
  const server = new StreamServer(['127.0.0.1', 0], (socket) => {
    for (let line = socket.readLine(); line !== ''; line = socket.readLine()) socket.write(line);
  }, options);
  server.start();
  try {
    return fn(server.address!.port);
  } finally {
    server.stop();
  }
}

describe('connect / Socket', () => {
  it('reads lines (with their \\n, then "" at the end), exact byte counts and chunks', async () => {
    await inGreenlet(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
        socket.write('first line\nsecond ');
        sleep(5);
        socket.write('line\nütf-8 ✓\n0123456789tail');
        socket.end();
      });
      server.start();
      const socket = connect(server.address!.port, '127.0.0.1');
      expect(socket.readLine()).toBe('first line\n');
      expect(socket.readLine()).toBe('second line\n');
      expect(socket.readLine()).toBe('ütf-8 ✓\n');
      expect(socket.readExactly(4).toString()).toBe('0123');
      expect(socket.read(3).toString()).toBe('456');
      expect(socket.readExactly(3).toString()).toBe('789');
      expect(socket.readLine()).toBe('tail');
      expect(socket.readLine()).toBe('');
      expect(socket.read().length).toBe(0);
      socket.close();
      server.stop();
    });
  });

  it('readExactly past the end raises IncompleteReadError with the partial bytes', async () => {
    await inGreenlet(() => {
      const server = new StreamServer(0, (socket) => socket.end('abc'));
      server.start();
      const socket = connect(server.address!.port);
      const error = (() => {
        try {
          socket.readExactly(10);
        } catch (caught) {
          return caught as IncompleteReadError;
        }
      })();
      expect(error).toBeInstanceOf(IncompleteReadError);
      expect(error!.code).toBe('GF_ERR_INCOMPLETE_READ');
      expect(error!.partial.toString()).toBe('abc');
      socket.close();
      server.stop();
    });
  });

  it('calls on a socket closed by close() or by a cut call throw SocketClosedError', async () => {
    await inGreenlet(() =>
      withEcho((port) => {
        const socket = connect(port, '127.0.0.1');
        socket.write('before\n');
        expect(socket.readLine()).toBe('before\n');
        socket.close();
        expect(socket.closed).toBe(true);
        for (const [name, call] of [
          ['read()', () => socket.read()],
          ['readExactly()', () => socket.readExactly(1)],
          ['readLine()', () => socket.readLine()],
          ['write()', () => socket.write('x')],
        ] as const) {
          let error: SocketClosedError | undefined;
          try {
            call();
          } catch (caught) {
            error = caught as SocketClosedError;
          }
          expect(error).toBeInstanceOf(SocketClosedError);
          expect(error!.code).toBe('GF_ERR_SOCKET_CLOSED');
          expect(error!.message).toContain(`${name} on a closed socket`);
        }
        socket.close(); // idempotent

        // A call cut from outside closes the socket: later calls say so too.
        const cut = connect(port, '127.0.0.1');
        expect(withTimeout(20, () => cut.readLine(), { default: 'cut' })).toBe('cut');
        expect(() => cut.readLine()).toThrow(SocketClosedError);
        expect(() => cut.write('x')).toThrow(SocketClosedError);
      }),
    );
  });

  it('per-call and per-socket timeouts raise SocketTimeoutError; the socket stays usable', async () => {
    await inGreenlet(() =>
      withEcho((port) => {
        const socket = connect(port, '127.0.0.1', { timeout: 20, connectTimeout: 10_000 });
        expect(() => socket.readLine()).toThrow(SocketTimeoutError);
        expect(() => socket.read(10, { timeout: 5 })).toThrow(/read\(\) timed out after 5 ms/);
        socket.write('still there\n');
        // The echo's round trip gets a generous limit of its own (the socket's 20 ms is for the tests above).
        expect(socket.readLine({ timeout: 10_000 })).toBe('still there\n');
        socket.close();
      }),
    );
  });

  it('write blocks on backpressure and delivers everything in order to a slow reader', async () => {
    await inGreenlet(() => {
      let received = 0;
      const server = new StreamServer(['127.0.0.1', 0], (socket) => {
        for (let chunk = socket.read(); chunk.length > 0; chunk = socket.read()) {
          received += chunk.length;
          sleep(1);
        }
      });
      server.start();
      const socket = connect(server.address!.port, '127.0.0.1');
      const block = Buffer.alloc(256 * 1024, 7);
      for (let i = 0; i < 16; i++) socket.write(block);
      expect(socket.raw.writableLength).toBeLessThan(block.length * 2);
      socket.end();
      for (let i = 0; i < 1000 && received < 16 * block.length; i++) sleep(5);
      expect(received).toBe(16 * block.length);
      socket.close();
      server.stop();
    });
  });

  it('connect to a closed port raises ECONNREFUSED; outside greenlets it is BlockingOnHubError', async () => {
    const port = await closedPort();
    await inGreenlet(() => {
      expect(() => connect(port, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    });
    expect(() => connect(port, '127.0.0.1')).toThrow(BlockingOnHubError);
  });

  it('wraps an existing net.Socket; two greenlets reading one socket at once is a FiberError', async () => {
    await inGreenlet(() =>
      withEcho((port) => {
        const raw = net.connect(port, '127.0.0.1');
        const socket = new Socket(raw);
        let reading = false;
        const reader = spawn(() => {
          reading = true; // set right before readLine(), which parks: seen set, the reader is parked
          return socket.readLine();
        });
        for (let turn = 0; turn < 5000 && !reading; turn++) sleep(1);
        expect(() => socket.readLine()).toThrow(/already reading/);
        socket.write('x\n');
        expect(reader.get()).toBe('x\n');
        socket.close();
      }),
    );
  });
});

describe('StreamServer', () => {
  it('accepts [host, port], { host, port } and a port; address is { host, port } once started', async () => {
    await inGreenlet(() => {
      for (const listener of [['127.0.0.1', 0], { host: '127.0.0.1', port: 0 }, 0] as const) {
        const server = new StreamServer(listener as never, () => {});
        expect(server.address).toBeUndefined();
        server.start();
        expect(server.address).toEqual({ host: expect.any(String), port: expect.any(Number) });
        expect(server.address!.port).toBeGreaterThan(0);
        server.stop();
      }
      expect(() => new StreamServer(['127.0.0.1', -1] as never, () => {})).toThrow(TypeError);
    });
  });

  it('serves each connection in its own greenlet: blocking handlers overlap (order of events)', async () => {
    await inGreenlet(() => {
      const events: string[] = [];
      // A barrier, not a sleep: each handler parks until all eight have started, which only
      // happens if they overlap (a loaded machine may spread the arrivals over many ms).
      const allStarted = new Event();
      const server = new StreamServer(['127.0.0.1', 0], (socket, address) => {
        const n = socket.readLine().trim();
        events.push(`start ${n}`);
        if (events.length === 8) allStarted.set();
        allStarted.wait(30_000);
        events.push(`end ${n}`);
        socket.write(`${n} ${address.host}\n`);
      });
      server.start();
      const clients = Array.from({ length: 8 }, (_, i) =>
        spawn(() => {
          const socket = connect(server.address!.port, '127.0.0.1');
          socket.write(`${i}\n`);
          const answer = socket.readLine();
          socket.close();
          return answer;
        }),
      );
      joinAll(clients, { raiseError: true });
      expect(events.slice(0, 8).every((event) => event.startsWith('start'))).toBe(true);
      expect(clients.map((client) => client.value)).toEqual(Array.from({ length: 8 }, (_, i) => `${i} 127.0.0.1\n`));
      server.stop();
    });
  });

  it('caps concurrent connections at maxConnections; the others wait their turn', async () => {
    await inGreenlet(() => {
      let active = 0;
      let peak = 0;
      const server = new StreamServer(
        ['127.0.0.1', 0],
        (socket) => {
          active++;
          peak = Math.max(peak, active);
          sleep(20);
          active--;
          socket.write('done\n');
        },
        { maxConnections: 2 },
      );
      server.start();
      const clients = Array.from({ length: 6 }, () =>
        spawn(() => {
          const socket = connect(server.address!.port, '127.0.0.1');
          try {
            return socket.readLine();
          } finally {
            socket.close();
          }
        }),
      );
      joinAll(clients, { raiseError: true });
      expect(clients.map((client) => client.value)).toEqual(Array(6).fill('done\n'));
      // The cap is the invariant; reaching it depends on how fast the six connect (load).
      expect(peak).toBeGreaterThanOrEqual(1);
      expect(peak).toBeLessThanOrEqual(2);
      server.stop();
    });
  });

  it('serveForever() blocks until stop(); stop() kills handlers still running after its timeout', async () => {
    await inGreenlet(() => {
      let finished = false;
      const server = new StreamServer(['127.0.0.1', 0], () => {
        sleep(60_000);
        finished = true;
      });
      const serving = spawn(() => server.serveForever());
      // Waited for by turns, not a few ms: a loaded machine takes longer to listen and accept.
      for (let turn = 0; turn < 5000 && server.address === undefined; turn++) sleep(1);
      const socket = connect(server.address!.port, '127.0.0.1');
      for (let turn = 0; turn < 5000 && server.activeConnections === 0; turn++) sleep(1);
      expect(server.activeConnections).toBe(1);
      server.stop(10);
      serving.join();
      expect(serving.successful()).toBe(true);
      expect(finished).toBe(false);
      expect(server.activeConnections).toBe(0);
      expect(socket.read().length).toBe(0);
      socket.close();
    });
  });
});

// Every interruption of a blocking socket call gives back what it took: the client's fds and the
// server's connections return to their baseline, and the next call works.
describe('interrupted calls leave nothing behind', () => {

  // A server that never answers (reads and drops), or closes when told to.
  const calls: Record<string, (socket: Socket, timeout?: number) => unknown> = {
    read: (socket, timeout) => socket.read(100, { timeout }),
    readExactly: (socket, timeout) => socket.readExactly(10, { timeout }),
    readLine: (socket, timeout) => socket.readLine({ timeout }),
    // The peer does not read: the send buffer fills and write() blocks.
    write: (socket, timeout) => {
      const chunk = Buffer.alloc(1024 * 1024);
      for (;;) socket.write(chunk, { timeout });
    },
  };
  const hows = ['kill()', 'a Timeout', 'its own timeout', 'the peer going away'];
  const rows: Array<[string, string]> = [];
  for (const call of Object.keys(calls)) for (const how of hows) rows.push([call, how]);

  it.each(rows)('%s interrupted by %s', async (callName, how) => {
    await inGreenlet(() => {
      let peerSocket: net.Socket | undefined;
      const server = net.createServer((socket) => {
        peerSocket = socket;
        socket.pause(); // never reads: a writer fills the send buffer
        socket.on('error', () => {});
      });
      server.listen(0, '127.0.0.1');
      const port = () => (server.address() as net.AddressInfo).port;
      eventually(() => server.address() !== null);
      const connections = (): number => blocking(() => new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n))))();
      const baseline = settledFds();
      const socket = connect(port(), '127.0.0.1');
      const call = calls[callName];
      let outcome: unknown;
      if (how === 'kill()') {
        const greenlet = spawn(() => call(socket));
        sleep(50);
        greenlet.kill();
        outcome = greenlet.value;
        expect(outcome).toBeInstanceOf(GreenletExit);
        expect(socket.closed).toBe(true);
      } else if (how === 'a Timeout') {
        outcome = caught(() => withTimeout(50, () => call(socket)));
        expect(outcome).toBeInstanceOf(Timeout);
        expect(socket.closed).toBe(true);
      } else if (how === 'its own timeout') {
        outcome = caught(() => call(socket, 50));
        expect(outcome).toBeInstanceOf(SocketTimeoutError);
        // The socket is still usable; its owner closes it.
        expect(socket.closed).toBe(false);
        if (callName !== 'write') {
          peerSocket!.write('0123456789\n');
          expect(call(socket, 2000)).toBeTruthy();
        }
        socket.close();
      } else {
        const greenlet = spawn(() => {
          try {
            return call(socket);
          } catch (error) {
            return error;
          }
        });
        sleep(30);
        peerSocket!.destroy();
        greenlet.join();
        outcome = greenlet.value;
        // read/readLine end quietly (''), readExactly raises IncompleteReadError, write ECONNRESET/EPIPE.
        if (callName === 'readExactly') expect(outcome).toBeInstanceOf(IncompleteReadError);
        if (callName === 'write') expect((outcome as { code?: string }).code).toMatch(/ECONNRESET|EPIPE/);
        else if (callName !== 'readExactly') expect(String(outcome)).toBe('');
        socket.close();
      }
      // The server reads again (a writer had filled its buffers), so it sees the client leave.
      peerSocket?.resume();
      expect(eventually(() => connections() === 0 && fds() === baseline), `connections ${connections()}, fds +${fds() - baseline}`).toBe(true);
      // The next call works.
      const again = connect(port(), '127.0.0.1');
      again.write('ping');
      again.close();
      server.close();
    });
  });

  it('connect() interrupted by kill(), a Timeout and its own timeout leaves no socket', async () => {
    await inGreenlet(() => {
      // A listener whose backlog is full: further connects hang in SYN (loopback drops them).
      const baseline = settledFds();
      const hold: net.Socket[] = [];
      const server = net.createServer();
      server.listen({ port: 0, host: '127.0.0.1', backlog: 1 });
      eventually(() => server.address() !== null);
      const port = (server.address() as net.AddressInfo).port;
      server.close(); // a closed port: connect fails fast, so interrupt at once instead
      const connectors = [
        () => {
          const greenlet = spawn(() => connect(port, '127.0.0.1'));
          greenlet.kill();
          return greenlet.value;
        },
        () => caught(() => withTimeout(0, () => connect(port, '127.0.0.1'))),
        () => caught(() => connect(port, '127.0.0.1', { connectTimeout: 0 })),
      ];
      for (const run of connectors) {
        const outcome = run();
        expect(outcome instanceof GreenletExit || outcome instanceof Timeout || outcome instanceof SocketTimeoutError || (outcome as { code?: string }).code === 'ECONNREFUSED').toBe(true);
      }
      for (const socket of hold) socket.destroy();
      expect(eventually(() => fds() === baseline), `fds +${fds() - baseline}`).toBe(true);
    });
  });
});

describe('StreamServer limits', () => {
  it('kills a handler whose client went away (interruptOnClientGone, default on)', async () => {
    await inGreenlet(() => {
      const released = new Event();
      const server = new StreamServer(['127.0.0.1', 0], () => {
        try {
          sleep(30_000);
        } finally {
          released.set();
        }
      });
      server.start();
      const client = connect(server.address!.port, '127.0.0.1');
      for (let i = 0; i < 100 && server.activeConnections === 0; i++) sleep(5);
      expect(server.activeConnections).toBe(1);
      client.close();
      expect(released.wait(5000)).toBe(true);
      for (let i = 0; i < 100 && server.activeConnections > 0; i++) sleep(5);
      expect(server.activeConnections).toBe(0);
      server.stop();
    });
  });

  it('with interruptOnClientGone: false the handler runs on; past maxWaiting connections are closed', async () => {
    await inGreenlet(() => {
      const go = new Event();
      const server = new StreamServer(['127.0.0.1', 0], (socket) => {
        go.wait();
        try {
          socket.write('done\n');
        } catch {
          // The first client left while its handler ran on.
        }
      }, { maxConnections: 1, maxWaiting: 1, interruptOnClientGone: false });
      server.start();
      const port = server.address!.port;
      const first = connect(port, '127.0.0.1');
      for (let i = 0; i < 100 && server.activeConnections === 0; i++) sleep(5);
      const second = connect(port, '127.0.0.1');
      for (let i = 0; i < 100 && server.waitingConnections === 0; i++) sleep(5);
      expect(server.waitingConnections).toBe(1);
      const third = connect(port, '127.0.0.1');
      expect(third.read()).toHaveLength(0); // closed at once: the line is full
      first.close();
      sleep(50);
      expect(server.activeConnections).toBe(1); // not killed: the option is off
      go.set();
      expect(second.readLine()).toBe('done\n');
      second.close();
      third.close();
      server.stop();
    });
  });
});

describe('patched net servers are bounded (fixture)', () => {
  it('handlers of departed clients are killed, threads stay flat, the cap holds, a full line closes', () => {
    const result = runFixture('monkey-net-bounded.js', ['200']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'impatient: 200 sent, 200 started, 200 released, running 0',
      'threads bounded: true',
      'capped: true peak<=4 true',
      'full line: served true closed true',
      'fibers left: 0',
    ]);
    expect(result.status).toBe(0);
  });
});
