// greenfiber/net: blocking-style TCP for greenlets (gevent.socket and gevent.server.StreamServer):
// connect() → a Socket whose read/readExactly/readLine/write park only the calling greenlet, and
// StreamServer, which serves each connection in a greenlet of its own.
import net = require('node:net');
import { FiberError, IncompleteReadError, SocketTimeoutError } from '../errors';
import { Event } from '../event';
import { Greenlet, joinAll, killAll } from '../greenlet';
import { assertCanBlock, Waiter } from '../hub';
import { setLongTimeout } from '../long-timer';
import { checkFunction, checkTimeout, invalidArgument, readOptions } from '../validate';
import { kLink } from '../waitable';

/** A host and port, as `server.address` and `socket.remoteAddress` give them. */
export interface Address {
  host: string;
  port: number;
}

/** Options of connect() and of the sockets a StreamServer hands out. */
export interface SocketOptions {
  /**
   * Milliseconds each blocking call may take before it throws SocketTimeoutError (gevent's
   * settimeout); undefined (the default) waits forever. A call's own `{ timeout }` overrides it.
   */
  timeout?: number;
}

/** Per-call options of the blocking methods. */
export interface CallOptions {
  /** Overrides `socket.timeout` for this call. */
  timeout?: number;
}

// Reading pauses the underlying socket once this much is buffered, and resumes below it.
const HIGH_WATER = 64 * 1024;
const DEFAULT_READ = 64 * 1024;

// The rule for times (validate.ts): undefined for none (null, Infinity), negatives as 0.
function validTimeout(timeout: unknown, name: string): number | undefined {
  return checkTimeout(timeout, name);
}

/** Parks on `waiter` for at most `timeout` ms; throws SocketTimeoutError(`what`) when it runs out. */
function parkOn(waiter: Waiter<void>, timeout: number | undefined, what: string): void {
  const timer = timeout === undefined ? undefined : setLongTimeout(() => waiter.throw(new SocketTimeoutError(`${what} timed out after ${timeout} ms`)), timeout, undefined);
  try {
    waiter.get();
  } finally {
    timer?.cancel();
  }
}

/**
 * A connected TCP socket with blocking methods (gevent.socket.socket). Each method parks only
 * the calling greenlet; one greenlet may read while another writes, but two reading (or two
 * writing) at once is a FiberError. Methods throw the socket's error (ECONNRESET, EPIPE, ...) and
 * SocketTimeoutError past the timeout. Disposable: `using socket = connect(...)` closes it.
 */
export class Socket {
  #timeout: number | undefined;
  /** The underlying net.Socket, for options (setNoDelay, setKeepAlive) and addresses. */
  readonly raw: net.Socket;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined = undefined;
  #reader: Waiter<void> | undefined = undefined;
  #writer: Waiter<void> | undefined = undefined;

  /**
   * Default timeout of each blocking call, in ms; undefined (or null, Infinity) waits forever.
   * @throws TypeError / RangeError when set to a bad time (the rule for times, README).
   */
  get timeout(): number | undefined {
    return this.#timeout;
  }

  set timeout(timeout: number | undefined) {
    this.#timeout = validTimeout(timeout, 'timeout');
  }

  // A call's own { timeout } when it gives one (Infinity: forever), else the socket's.
  #callTimeout(options: unknown): number | undefined {
    const { timeout } = readOptions(options, 'options', ['timeout']);
    return timeout === undefined ? this.#timeout : validTimeout(timeout, 'options.timeout');
  }

  /** Wraps a connected net.Socket (connect() and StreamServer make these for you). */
  constructor(raw: net.Socket, options: SocketOptions = {}) {
    if (!(raw instanceof net.Socket)) throw invalidArgument('raw', 'a net.Socket', raw);
    const read = readOptions(options, 'options', ['timeout']);
    this.raw = raw;
    this.timeout = validTimeout(read.timeout, 'options.timeout');
    raw.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= HIGH_WATER) raw.pause();
      this.#wakeReader();
    });
    raw.on('end', () => {
      this.#ended = true;
      this.#wakeReader();
    });
    raw.on('error', (error: Error) => {
      this.#error ??= error;
      this.#wakeReader();
      this.#wakeWriter();
    });
    raw.on('close', () => {
      this.#ended = true;
      this.#wakeReader();
      this.#wakeWriter();
    });
    raw.on('drain', () => this.#wakeWriter());
  }

  /** The peer's `{ host, port }`. */
  get remoteAddress(): Address {
    return { host: this.raw.remoteAddress ?? '', port: this.raw.remotePort ?? 0 };
  }

  /** This end's `{ host, port }`. */
  get localAddress(): Address {
    return { host: this.raw.localAddress ?? '', port: this.raw.localPort ?? 0 };
  }

  /** Whether close() was called or the connection is gone. */
  get closed(): boolean {
    return this.raw.destroyed;
  }

  #wakeReader(): void {
    const waiter = this.#reader;
    if (waiter !== undefined) {
      this.#reader = undefined;
      waiter.switch(undefined);
    }
  }

  #wakeWriter(): void {
    const waiter = this.#writer;
    if (waiter !== undefined) {
      this.#writer = undefined;
      waiter.switch(undefined);
    }
  }

  /** Blocks until more data, the end of the stream or an error arrives. */
  #waitForData(timeout: number | undefined, what: string): void {
    if (this.#reader !== undefined) throw new FiberError('another greenlet is already reading this socket; a socket has one reader at a time');
    assertCanBlock();
    if (this.raw.isPaused()) this.raw.resume();
    const waiter = new Waiter<void>();
    this.#reader = waiter;
    try {
      parkOn(waiter, timeout, what);
    } finally {
      if (this.#reader === waiter) this.#reader = undefined;
    }
  }

  /** Takes up to `n` buffered bytes. */
  #take(n: number): Buffer {
    let out: Buffer;
    const first = this.#chunks[0];
    if (first.length > n) {
      out = first.subarray(0, n);
      this.#chunks[0] = first.subarray(n);
    } else if (first.length === n || this.#chunks.length === 1) {
      out = first;
      this.#chunks.shift();
    } else {
      const parts: Buffer[] = [];
      let size = 0;
      while (size < n && this.#chunks.length > 0) {
        const chunk = this.#chunks[0];
        if (size + chunk.length <= n) {
          parts.push(chunk);
          size += chunk.length;
          this.#chunks.shift();
        } else {
          parts.push(chunk.subarray(0, n - size));
          this.#chunks[0] = chunk.subarray(n - size);
          size = n;
        }
      }
      out = Buffer.concat(parts, size);
    }
    this.#buffered -= out.length;
    if (this.#buffered < HIGH_WATER && this.raw.isPaused() && !this.#ended) this.raw.resume();
    return out;
  }

  #failIfBroken(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /**
   * Blocks until data is there and returns up to `max` bytes of it (at least one); returns an
   * empty Buffer at the end of the stream (gevent's recv).
   */
  read(max: number = DEFAULT_READ, options: CallOptions = {}): Buffer {
    if (typeof max !== 'number' || !(max >= 1)) throw new TypeError(`Expected a number >= 1 for max but received ${String(max)}`);
    const timeout = this.#callTimeout(options);
    while (this.#buffered === 0) {
      this.#failIfBroken();
      if (this.#ended) return Buffer.alloc(0);
      this.#waitForData(timeout, 'read()');
    }
    return this.#take(Math.floor(max));
  }

  /**
   * Blocks until exactly `n` bytes came and returns them.
   * @throws IncompleteReadError (with the bytes that came) if the stream ends first.
   */
  readExactly(n: number, options: CallOptions = {}): Buffer {
    if (typeof n !== 'number' || !(n >= 0) || !Number.isInteger(n)) throw new TypeError(`Expected an integer >= 0 for n but received ${String(n)}`);
    const timeout = this.#callTimeout(options);
    while (this.#buffered < n) {
      this.#failIfBroken();
      if (this.#ended) {
        const partial = this.#buffered > 0 ? this.#take(this.#buffered) : Buffer.alloc(0);
        throw new IncompleteReadError(partial, n);
      }
      this.#waitForData(timeout, 'readExactly()');
    }
    return n === 0 ? Buffer.alloc(0) : this.#take(n);
  }

  /**
   * Blocks until a whole line came and returns it, decoded as UTF-8, with its `\n`; at the end of
   * the stream returns the last unterminated line, then `''`.
   */
  readLine(options: CallOptions = {}): string {
    const timeout = this.#callTimeout(options);
    let scanned = 0;
    for (;;) {
      let offset = 0;
      for (const chunk of this.#chunks) {
        if (offset + chunk.length > scanned) {
          const index = chunk.indexOf(10, Math.max(0, scanned - offset));
          if (index >= 0) return this.#take(offset + index + 1).toString('utf8');
        }
        offset += chunk.length;
      }
      scanned = offset;
      this.#failIfBroken();
      if (this.#ended) return this.#buffered > 0 ? this.#take(this.#buffered).toString('utf8') : '';
      this.#waitForData(timeout, 'readLine()');
    }
  }

  /**
   * Writes `data` (a string is written as UTF-8); blocks while the socket's send buffer is full
   * (backpressure), so a fast writer cannot outrun a slow peer.
   */
  write(data: string | Uint8Array, options: CallOptions = {}): void {
    const timeout = this.#callTimeout(options);
    this.#failIfBroken();
    if (this.raw.destroyed || this.raw.writableEnded) {
      throw Object.assign(new Error('write after the socket was closed or ended'), { code: 'EPIPE' });
    }
    if (this.raw.write(data)) return;
    if (this.#writer !== undefined) throw new FiberError('another greenlet is already writing to this socket; a socket has one writer at a time');
    assertCanBlock();
    const waiter = new Waiter<void>();
    this.#writer = waiter;
    try {
      parkOn(waiter, timeout, 'write()');
    } finally {
      if (this.#writer === waiter) this.#writer = undefined;
    }
    this.#failIfBroken();
  }

  /** Writes `data` if given, then ends the sending side (half-close); reading goes on. Never blocks. */
  end(data?: string | Uint8Array): void {
    if (data !== undefined) this.raw.end(data);
    else this.raw.end();
  }

  /** Closes the connection at once (unsent data is dropped). Idempotent; never blocks. */
  close(): void {
    this.raw.destroy();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of connect(). */
export interface ConnectOptions extends SocketOptions {
  /** Milliseconds the connection may take to establish; defaults to `timeout`. */
  connectTimeout?: number;
}

/**
 * Connects to `host:port` and returns the connected Socket. Blocks.
 * @throws Node's error for a failed connection (ECONNREFUSED, ENOTFOUND, ...), SocketTimeoutError
 *   past `connectTimeout` (or `timeout`), BlockingOnHubError outside a greenlet.
 */
export function connect(port: number, host = 'localhost', options: ConnectOptions = {}): Socket {
  if (typeof port !== 'number') throw invalidArgument('port', 'a port number (0-65535)', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument('port', 'a port number (0-65535)', port, true);
  if (typeof host !== 'string') throw invalidArgument('host', 'a host name or address string', host);
  const read = readOptions(options, 'options', ['connectTimeout', 'timeout']);
  const connectTimeout = validTimeout(read.connectTimeout, 'options.connectTimeout') ?? validTimeout(read.timeout, 'options.timeout');
  assertCanBlock();
  const raw = net.connect({ port, host });
  const waiter = new Waiter<void>();
  const onConnect = (): void => waiter.switch(undefined);
  const onError = (error: Error): void => waiter.throw(error);
  raw.once('connect', onConnect);
  raw.once('error', onError);
  try {
    parkOn(waiter, connectTimeout, `connect() to ${host}:${port}`);
  } catch (error) {
    raw.destroy();
    throw error;
  } finally {
    raw.off('connect', onConnect);
    raw.off('error', onError);
  }
  return new Socket(raw, options);
}

/** Where a StreamServer listens: `[host, port]` (gevent), `{ host, port }`, or a port. */
export type Listener = [string, number] | { host?: string; port: number } | number;

/** Options of a StreamServer. */
export interface StreamServerOptions extends SocketOptions {
  /**
   * How many connections are handled at once; more wait, accepted, until a handler finishes
   * (gevent's spawn=Pool(n)). Default: unlimited.
   */
  maxConnections?: number;
  /** stop()'s default: ms to let running handlers finish before they are killed. Default 1000. */
  stopTimeout?: number;
}

function parseListener(listener: Listener): { host: string | undefined; port: number } {
  let host: string | undefined;
  let port: unknown;
  if (typeof listener === 'number') port = listener;
  else if (Array.isArray(listener)) [host, port] = listener;
  else if (typeof listener === 'object' && listener !== null) ({ host, port } = listener);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`Expected [host, port], { host, port } or a port number (0-65535) for listener but received ${JSON.stringify(listener)}`);
  }
  if (host !== undefined && typeof host !== 'string') throw new TypeError(`Expected a string for the listener's host but received ${typeof host}`);
  return { host: host === '' ? undefined : host, port };
}

/**
 * A TCP server that runs `handler(socket, address)` in a greenlet of its own for each
 * connection (gevent.server.StreamServer); the socket is closed when the handler returns. An
 * error a handler throws is reported like any greenlet error and closes that connection only.
 */
export class StreamServer {
  readonly #listen: { host: string | undefined; port: number };
  readonly #handler: (socket: Socket, address: Address) => unknown;
  readonly #options: StreamServerOptions;
  readonly #maxConnections: number;
  #server: net.Server | undefined = undefined;
  #address: Address | undefined = undefined;
  #handlers = new Set<Greenlet<unknown>>();
  #waiting: net.Socket[] = [];
  #stopped = new Event();

  /** Creates the server; nothing listens until start() or serveForever(). */
  constructor(listener: Listener, handler: (socket: Socket, address: Address) => unknown, options: StreamServerOptions = {}) {
    this.#listen = parseListener(listener);
    checkFunction(handler, 'handler');
    this.#handler = handler;
    const read = readOptions(options, 'options', ['timeout', 'maxConnections', 'stopTimeout']);
    this.#options = read as StreamServerOptions;
    validTimeout(read.timeout, 'options.timeout');
    validTimeout(read.stopTimeout, 'options.stopTimeout');
    const max = read.maxConnections ?? Infinity;
    if (typeof max !== 'number') throw invalidArgument('options.maxConnections', 'a number >= 1', max);
    if (!(max >= 1)) throw invalidArgument('options.maxConnections', 'a number >= 1', max, true);
    this.#maxConnections = max;
  }

  /** `{ host, port }` once started (the real port when 0 was asked for); undefined before. */
  get address(): Address | undefined {
    return this.#address;
  }

  /** Whether the server is listening. */
  get started(): boolean {
    return this.#server !== undefined;
  }

  /** How many connections are being handled now. */
  get activeConnections(): number {
    return this.#handlers.size;
  }

  /**
   * Starts listening; returns once the port is bound (blocks only if binding needs a name
   * lookup). A no-op if started.
   * @throws Node's listen error (EADDRINUSE, EACCES, ...).
   */
  start(): void {
    if (this.#server !== undefined) return;
    const server = new net.Server();
    server.on('connection', (raw: net.Socket) => this.#accept(raw));
    const waiter = new Waiter<void>();
    const onError = (error: Error): void => waiter.throw(error);
    const onListening = (): void => waiter.switch(undefined);
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(this.#listen.port, this.#listen.host);
    try {
      // An IP address binds at once; a host name is looked up first.
      if (server.address() === null) waiter.get();
    } catch (error) {
      server.close();
      throw error;
    } finally {
      server.off('error', onError);
      server.off('listening', onListening);
    }
    server.on('error', () => {
      // Accept errors (EMFILE, ...) leave the server listening, as gevent's do.
    });
    const bound = server.address() as net.AddressInfo;
    this.#server = server;
    this.#address = { host: bound.address, port: bound.port };
    this.#stopped = new Event();
  }

  /** Starts (if needed) and blocks until stop() is called (gevent's serve_forever). */
  serveForever(): void {
    this.start();
    this.#stopped.wait();
  }

  /**
   * Stops listening, lets running handlers finish for up to `timeout` ms (default `stopTimeout`,
   * 1000), then kills those left and closes their sockets. Blocks while handlers finish.
   * Idempotent.
   */
  stop(timeout: number = this.#options.stopTimeout ?? 1000): void {
    validTimeout(timeout, 'timeout');
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.close();
    for (const raw of this.#waiting.splice(0)) raw.destroy();
    const running = [...this.#handlers];
    if (running.length > 0) {
      joinAll(running, { timeout });
      killAll(running.filter((greenlet) => !greenlet.dead));
    }
    this.#stopped.set();
  }

  #accept(raw: net.Socket): void {
    if (this.#server === undefined) {
      raw.destroy();
      return;
    }
    if (this.#handlers.size >= this.#maxConnections) {
      raw.pause();
      this.#waiting.push(raw);
      raw.once('close', () => {
        const index = this.#waiting.indexOf(raw);
        if (index >= 0) this.#waiting.splice(index, 1);
      });
      return;
    }
    this.#serve(raw);
  }

  #serve(raw: net.Socket): void {
    const socket = new Socket(raw, { timeout: this.#options.timeout });
    const address = socket.remoteAddress;
    const greenlet = new Greenlet(() => {
      try {
        return this.#handler(socket, address);
      } finally {
        socket.close();
      }
    });
    greenlet.name = `StreamServer connection from ${address.host}:${address.port}`;
    this.#handlers.add(greenlet);
    // A raw link: runs on the hub as the handler ends, without a greenlet of its own.
    greenlet[kLink](() => {
      this.#handlers.delete(greenlet);
      const next = this.#waiting.shift();
      if (next !== undefined) this.#serve(next);
    });
    greenlet.start();
  }
}

export { SocketTimeoutError, IncompleteReadError };
