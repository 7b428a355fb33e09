// greenfiber/net: blocking-style TCP for greenlets (gevent.socket and gevent.server.StreamServer):
// connect() → a Socket whose read/readExactly/readLine/write park only the calling greenlet, and
// StreamServer, which serves each connection in a greenlet of its own.
import net = require('node:net');
import { FiberError, IncompleteReadError, SocketClosedError, SocketTimeoutError } from '../errors';
import { Event } from '../event';
import { Greenlet, joinAll, killAll } from '../greenlet';
import { assertCanBlock, Waiter } from '../hub';
import { setLongTimeout } from '../long-timer';
import { checkFunction, checkTimeout, invalidArgument, readOptions } from '../validate';
import { DEFAULT_MAX_HANDLERS, Gate } from './server-limits';
import { StreamReader } from './stream-reader';

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

// Each Socket's reader, for StreamServer (which must know whether a closed connection left
// bytes its handler has not read yet).
const readers = new WeakMap<Socket, StreamReader>();

/**
 * A connected TCP socket with blocking methods (gevent.socket.socket). Each method parks only
 * the calling greenlet; one greenlet may read while another writes, but two reading (or two
 * writing) at once is a FiberError. Methods throw the socket's error (ECONNRESET, EPIPE, ...) and
 * SocketTimeoutError past the timeout; after that the socket is still usable. A call cut from
 * outside (a kill, a Timeout) closes the socket: its caller gave up on it, and nothing half read
 * or half written is left on a connection. Disposable: `using socket = connect(...)` closes it.
 * Once closed that way (close(), dispose, a cut call), read/readExactly/readLine/write throw
 * SocketClosedError (code GF_ERR_SOCKET_CLOSED).
 */
export class Socket {
  #timeout: number | undefined;
  /** The underlying net.Socket, for options (setNoDelay, setKeepAlive) and addresses. */
  readonly raw: net.Socket;
  readonly #reader: StreamReader;
  #error: Error | undefined = undefined;
  #writer: Waiter<void> | undefined = undefined;
  // Set by close() (also called when a call is cut from outside): later calls throw.
  #closedHere = false;

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
    this.#reader = new StreamReader(raw, {
      highWater: HIGH_WATER,
      noun: 'socket',
      timeoutError: (what, ms) => new SocketTimeoutError(`${what} timed out after ${ms} ms`),
      onInterrupted: () => this.close(),
    });
    readers.set(this, this.#reader);
    raw.on('error', (error: Error) => {
      this.#error ??= error;
      this.#wakeWriter();
    });
    raw.on('close', () => this.#wakeWriter());
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

  #assertOpen(call: string): void {
    if (this.#closedHere) throw new SocketClosedError(`${call} on a closed socket: it was closed by close() or by an interrupted call; connect a new one`);
  }

  #wakeWriter(): void {
    const waiter = this.#writer;
    if (waiter !== undefined) {
      this.#writer = undefined;
      waiter.switch(undefined);
    }
  }

  /**
   * Blocks until data is there and returns up to `max` bytes of it (at least one); returns an
   * empty Buffer at the end of the stream (gevent's recv).
   */
  read(max: number = DEFAULT_READ, options: CallOptions = {}): Buffer {
    if (typeof max !== 'number' || !(max >= 1)) throw new TypeError(`Expected a number >= 1 for max but received ${String(max)}`);
    this.#assertOpen('read()');
    const timeout = this.#callTimeout(options);
    return this.#reader.read(Math.floor(max), timeout, 'read()') ?? Buffer.alloc(0);
  }

  /**
   * Blocks until exactly `n` bytes came and returns them.
   * @throws IncompleteReadError (with the bytes that came) if the stream ends first.
   */
  readExactly(n: number, options: CallOptions = {}): Buffer {
    if (typeof n !== 'number' || !(n >= 0) || !Number.isInteger(n)) throw new TypeError(`Expected an integer >= 0 for n but received ${String(n)}`);
    this.#assertOpen('readExactly()');
    const timeout = this.#callTimeout(options);
    const bytes = this.#reader.readExactly(n, timeout, 'readExactly()');
    if (Buffer.isBuffer(bytes)) return bytes;
    throw new IncompleteReadError(bytes.partial, n);
  }

  /**
   * Blocks until a whole line came and returns it, decoded as UTF-8, with its `\n`; at the end of
   * the stream returns the last unterminated line, then `''`.
   */
  readLine(options: CallOptions = {}): string {
    this.#assertOpen('readLine()');
    const timeout = this.#callTimeout(options);
    return this.#reader.readUntil(10, timeout, 'readLine()').toString('utf8');
  }

  /**
   * Writes `data` (a string is written as UTF-8); blocks while the socket's send buffer is full
   * (backpressure), so a fast writer cannot outrun a slow peer.
   */
  write(data: string | Uint8Array, options: CallOptions = {}): void {
    this.#assertOpen('write()');
    const timeout = this.#callTimeout(options);
    if (this.#error !== undefined) throw this.#error;
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
    } catch (error) {
      // Interrupted from outside (a kill, a Timeout): the caller gave up on the stream, and what
      // it half sent would corrupt it. The call's own timeout leaves the socket usable.
      if (!(error instanceof SocketTimeoutError)) this.close();
      throw error;
    } finally {
      if (this.#writer === waiter) this.#writer = undefined;
    }
    if (this.#error !== undefined) throw this.#error;
  }

  /** Writes `data` if given, then ends the sending side (half-close); reading goes on. Never blocks. */
  end(data?: string | Uint8Array): void {
    if (data !== undefined) this.raw.end(data);
    else this.raw.end();
  }

  /** Closes the connection at once (unsent data is dropped). Idempotent; never blocks. */
  close(): void {
    this.#closedHere = true;
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
   * How many connections are handled at once, each in a greenlet (gevent's spawn=Pool(n)); more
   * wait, accepted and paused, until a handler finishes. Default DEFAULT_MAX_HANDLERS (1000, or
   * less where the kernel's thread limits are low); Infinity lifts the cap.
   */
  maxConnections?: number;
  /**
   * How many connections may wait, paused, for a handler; past it they are closed at once.
   * Default: ten times maxConnections.
   */
  maxWaiting?: number;
  /**
   * Whether a handler still running when its connection closes (the peer left) with nothing
   * left unread is killed with GreenletExit('client went away'). Default true.
   */
  interruptOnClientGone?: boolean;
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
  readonly #gate: Gate;
  #server: net.Server | undefined = undefined;
  #address: Address | undefined = undefined;
  #stopped = new Event();

  /** Creates the server; nothing listens until start() or serveForever(). */
  constructor(listener: Listener, handler: (socket: Socket, address: Address) => unknown, options: StreamServerOptions = {}) {
    this.#listen = parseListener(listener);
    checkFunction(handler, 'handler');
    this.#handler = handler;
    const read = readOptions(options, 'options', ['timeout', 'maxConnections', 'maxWaiting', 'interruptOnClientGone', 'stopTimeout']);
    this.#options = read as StreamServerOptions;
    validTimeout(read.timeout, 'options.timeout');
    validTimeout(read.stopTimeout, 'options.stopTimeout');
    const max = read.maxConnections ?? DEFAULT_MAX_HANDLERS;
    if (typeof max !== 'number') throw invalidArgument('options.maxConnections', 'a number >= 1', max);
    if (!(max >= 1)) throw invalidArgument('options.maxConnections', 'a number >= 1', max, true);
    const maxWaiting = read.maxWaiting ?? max * 10;
    if (typeof maxWaiting !== 'number') throw invalidArgument('options.maxWaiting', 'a number >= 0', maxWaiting);
    if (!(maxWaiting >= 0)) throw invalidArgument('options.maxWaiting', 'a number >= 0', maxWaiting, true);
    const interrupt = read.interruptOnClientGone ?? true;
    if (typeof interrupt !== 'boolean') throw invalidArgument('options.interruptOnClientGone', 'a boolean', interrupt);
    this.#gate = new Gate({ maxHandlers: max === Infinity ? Infinity : Math.floor(max), maxWaiting: maxWaiting === Infinity ? Infinity : Math.floor(maxWaiting), interruptOnClientGone: interrupt });
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
    return this.#gate.running.size;
  }

  /** How many accepted connections wait for a handler. */
  get waitingConnections(): number {
    return this.#gate.waiting;
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
    this.#gate.refuseWaiting();
    const running = [...this.#gate.running];
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
    // Paused until its handler runs; a waiting connection holds no greenlet.
    raw.pause();
    let socket: Socket | undefined;
    // Gone: closed, with nothing left for the handler to read. A peer that sent its data and
    // closed is not gone until the handler has read that data (then it sees the end itself).
    const gone = (): boolean => raw.destroyed && (socket === undefined || readers.get(socket)!.buffered === 0);
    this.#gate.admit({
      start: () => {
        socket = new Socket(raw, { timeout: this.#options.timeout });
        return this.#handle(socket);
      },
      gone,
      onGone(callback) {
        const onClose = (): void => {
          if (gone()) callback();
        };
        raw.once('close', onClose);
        return () => raw.off('close', onClose);
      },
      refuse: () => raw.destroy(),
    });
  }

  #handle(socket: Socket): Greenlet<unknown> {
    const address = socket.remoteAddress;
    const greenlet = new Greenlet(() => {
      try {
        return this.#handler(socket, address);
      } finally {
        socket.close();
      }
    });
    greenlet.name = `StreamServer connection from ${address.host}:${address.port}`;
    return greenlet;
  }
}

export { SocketTimeoutError, SocketClosedError, IncompleteReadError };
