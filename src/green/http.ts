// greenfiber/http: a blocking-style HTTP client for greenlets on undici (gevent users reach for
// requests or urllib3 with gevent; this is that). One keep-alive pool per origin, shared; typed
// errors (src/errors.ts HttpError family); bodies buffered with a size limit, or read in chunks.
import { pipeline, type Readable } from 'node:stream';
import zlib = require('node:zlib');
import { Dispatcher, request as undiciRequest } from 'undici';
import { FiberExit, HttpBadUrlError, HttpBodyTooLargeError, HttpConnectionError, HttpError, HttpTimeoutError } from '../errors';
import { assertCanBlock } from '../hub';
import { Timeout } from '../timeout';
import { MAX_TIMER_MS, setLongTimeout, type LongTimer } from '../long-timer';
import { checkOptionalBoolean, checkTimeout, invalidArgument, readOptions } from '../validate';
import { Waiter } from '../waiter';
import { agentFor, closeAll, dispatchTracked, interruptRequest, kTracker, leaveSocket, newTracker, tracked, type Tracker } from './http-pool';
import { StreamReader } from './stream-reader';

/** Response headers: lower-case names; a repeated header's values as an array. */
export type Headers = Record<string, string | string[] | undefined>;

/** Options of request() and get(). Times are milliseconds. */
export interface RequestOptions {
  /** Default 'GET'. */
  method?: string;
  /**
   * An object (a repeated header's values as an array), or `[name, value]` pairs in order: an
   * array of them, or any iterable of them (a WHATWG `Headers`, a `Map`).
   */
  headers?: Record<string, string | string[]> | Array<[string, string]> | Iterable<[string, string]>;
  /** A request body: a string (sent as UTF-8) or bytes. */
  body?: string | Uint8Array | null;
  /** The whole request, body included; default: no limit. */
  timeout?: number;
  /** Establishing the connection (TCP and TLS); default 10,000. */
  connectTimeout?: number;
  /** From sending the request to the end of the response headers; default 300,000. */
  headersTimeout?: number;
  /** The longest silence while the body arrives; default 300,000. */
  bodyTimeout?: number;
  /** The largest body request() buffers, in bytes; default 64 MiB. */
  maxBodySize?: number;
  /** How many redirects to follow; default 0 (a 3xx response is returned as is). */
  maxRedirections?: number;
  /**
   * Connections per origin in the shared pool that serves this request; requests beyond it wait
   * for a free connection. Default: unlimited. Requests with different limits use different pools.
   */
  connections?: number;
  /** Read the body in chunks (`response.read()`, iteration) instead of buffering it. */
  stream?: boolean;
  /**
   * With `stream`: how long each `read()` of the body may block, unless the call says otherwise
   * (`read({ timeout })`); past it the read throws HttpTimeoutError (`phase` 'body') and the body
   * stays readable. Default: no limit.
   */
  readTimeout?: number;
  /**
   * Send `Accept-Encoding: gzip, br` (unless `headers` has one) and decode gzip, br and deflate
   * bodies, as browsers and crawlers do; `maxBodySize` bounds the decoded size. The decoded
   * response has no `content-encoding` or `content-length` header. Default true; false sends
   * nothing and returns the body as it came.
   */
  decompress?: boolean;
  /** An undici Dispatcher of your own (Agent, Pool, ProxyAgent, MockAgent) instead of the shared pools. */
  dispatcher?: Dispatcher;
}

/** The default of `maxBodySize`: 64 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT = 10_000;
// The stream of a streamed body pauses once this much is buffered and not read.
const HIGH_WATER = 256 * 1024;

function number(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const expected = `a number >= ${min}`;
  if (typeof value !== 'number') throw invalidArgument(`options.${name}`, expected, value);
  if (!(value >= min)) throw invalidArgument(`options.${name}`, expected, value, true);
  return value;
}

// A time handed to undici, by the rule for times (validate.ts): undefined for the default;
// Infinity is undici's 0 (no limit); 0 and negatives are 1 ms (undici would read 0 as no limit);
// past Node's longest timer (~24.8 days) also no limit, as undici's timers would overflow.
function undiciTime(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = checkTimeout(value, `options.${name}`);
  return ms === undefined || ms > MAX_TIMER_MS ? 0 : Math.max(ms, 1);
}

const requestKeys = ['method', 'headers', 'body', 'timeout', 'connectTimeout', 'headersTimeout', 'bodyTimeout', 'maxBodySize', 'maxRedirections', 'connections', 'stream', 'readTimeout', 'decompress', 'dispatcher'] as const;

// Checks every option once, up front (getters read once), with the argument-naming messages.
function checkRequestOptions(options: unknown): { [K in (typeof requestKeys)[number]]?: unknown } {
  const read = readOptions(options, 'options', requestKeys);
  if (read.method !== undefined && typeof read.method !== 'string') throw invalidArgument('options.method', 'a string such as "GET"', read.method);
  const { body, dispatcher } = read;
  let { headers } = read;
  if (headers !== undefined && headers !== null && typeof headers !== 'object') throw invalidArgument('options.headers', 'an object or an array of [name, value] pairs', headers);
  // A Headers or a Map: its [name, value] pairs (spread as an object, it would have none).
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers) && typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    headers = read.headers = Array.from(headers as Iterable<unknown>);
  }
  if (Array.isArray(headers)) {
    headers.forEach((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw invalidArgument(`options.headers[${i}]`, 'a [name, value] pair of strings', pair);
      }
    });
  }
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw invalidArgument('options.body', 'a string, a Uint8Array (Buffer) or null', body);
  }
  checkOptionalBoolean(read.stream, 'options.stream');
  checkOptionalBoolean(read.decompress, 'options.decompress');
  checkTimeout(read.readTimeout, 'options.readTimeout');
  undiciTime(read.headersTimeout, 'headersTimeout');
  undiciTime(read.bodyTimeout, 'bodyTimeout');
  if (dispatcher !== undefined && (typeof dispatcher !== 'object' || dispatcher === null || typeof (dispatcher as Dispatcher).dispatch !== 'function')) {
    throw invalidArgument('options.dispatcher', 'an undici Dispatcher (an Agent, Pool, Client or MockAgent)', dispatcher);
  }
  if (read.connections !== undefined && read.connections !== null && !Number.isInteger(read.connections) && read.connections !== Infinity) {
    number(read.connections, 'connections', 1);
    throw invalidArgument('options.connections', 'an integer >= 1', read.connections, true);
  }
  if (read.maxRedirections !== undefined && read.maxRedirections !== null && !Number.isInteger(read.maxRedirections)) {
    number(read.maxRedirections, 'maxRedirections', 0);
    throw invalidArgument('options.maxRedirections', 'an integer >= 0', read.maxRedirections, true);
  }
  return read;
}

function isUrl(value: unknown): boolean {
  try {
    return value instanceof URL;
  } catch {
    return false; // a Proxy whose getPrototypeOf trap throws
  }
}

function parseUrl(url: string | URL): URL {
  if (typeof url !== 'string' && !isUrl(url)) throw invalidArgument('url', 'a URL string or a URL', url);
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch (error) {
    throw new HttpBadUrlError(`not a valid absolute URL: ${JSON.stringify(String(url))}`, { cause: error });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    takeCredentials(parsed);
    throw new HttpBadUrlError(`expected an http: or https: URL but received ${JSON.stringify(parsed.href)}`);
  }
  return parsed;
}

/**
 * Removes `url`'s userinfo, so that no message, error or response.url shows a password; returns
 * it decoded as `user:password` (sent as Basic authorization, as Node's http.request() does), or
 * undefined if it had none.
 */
function takeCredentials(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const credentials = `${decodeUserinfo(url.username)}:${decodeUserinfo(url.password)}`;
  url.username = '';
  url.password = '';
  return credentials;
}

function decodeUserinfo(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a lone '%' (the URL parser keeps it): taken as written
  }
}

const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

/** The typed error for a failure of `method url`. */
function httpError(error: unknown, what: string, timedOut: boolean): unknown {
  // A kill or an expired Timeout raised at the suspension point is control flow: it passes as is.
  if (error instanceof HttpError || error instanceof FiberExit || error instanceof Timeout) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (timedOut) return new HttpTimeoutError('total', `${what} timed out (timeout)`, { cause: error });
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new HttpTimeoutError('connect', `${what}: connecting timed out (connectTimeout)`, { cause: error });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new HttpTimeoutError('headers', `${what}: the response headers did not come in time (headersTimeout)`, { cause: error });
    case 'UND_ERR_BODY_TIMEOUT':
      return new HttpTimeoutError('body', `${what}: the response body stalled (bodyTimeout)`, { cause: error });
  }
  if (typeof code === 'string' && connectionCodes.has(code)) {
    const reason = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'host not found' : 'connection failed';
    return new HttpConnectionError(`${what}: ${reason} (${code})`, { cause: error });
  }
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new HttpError(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

type Body = Dispatcher.ResponseData<unknown>['body'];

/**
 * A response whose body has been read whole (request() without `stream`). `text()` decodes the
 * body as UTF-8; `json()` parses it.
 */
export class HttpResponse {
  constructor(
    /** The status code. */
    readonly status: number,
    readonly headers: Headers,
    readonly body: Buffer,
    /** The URL requested (before redirects). */
    readonly url: string,
  ) {}

  /** Whether the status is 2xx. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}

/** How request() and a streamed response share the request's `timeout` and its interruption. */
interface Flight {
  tracker: Tracker;
  timedOut: boolean;
  /** Stops the `timeout` timer. */
  cancel(): void;
}

/** Per-call options of HttpStreamResponse.read(). */
export interface ReadOptions {
  /** Milliseconds this read may block; overrides the request's `readTimeout`. */
  timeout?: number;
}

/**
 * A response whose body is read in chunks (request() with `stream: true`): `read()` blocks for
 * the next chunk, iteration yields them; `text()` / `json()` / `readAll()` take the rest (bounded
 * by maxBodySize). One greenlet reads at a time (a second is a FiberError). A read cut by its
 * own timeout (`readTimeout`, `read({ timeout })`) leaves the body readable; a read cut from
 * outside (a kill, a Timeout) closes the response and its connection.
 * close() drops the rest; a body not read to the end holds its connection until then.
 * Disposable.
 */
export class HttpStreamResponse {
  readonly #body: Readable;
  readonly #what: string;
  readonly #maxBodySize: number;
  readonly #readTimeout: number | undefined;
  readonly #reader: StreamReader;
  readonly #flight: Flight;
  #closed = false;

  /** @internal */
  constructor(
    readonly status: number,
    readonly headers: Headers,
    body: Readable,
    readonly url: string,
    what: string,
    maxBodySize: number,
    readTimeout: number | undefined,
    flight: Flight,
  ) {
    this.#body = body;
    this.#what = what;
    this.#maxBodySize = maxBodySize;
    this.#readTimeout = readTimeout;
    this.#flight = flight;
    this.#reader = new StreamReader(body, {
      highWater: HIGH_WATER,
      noun: 'response body',
      timeoutError: (call, ms) => new HttpTimeoutError('body', `${what}: ${call} timed out after ${ms} ms (read timeout)`),
      mapError: (error) => httpError(error, what, flight.timedOut),
      onInterrupted: () => this.close(),
    });
    body.on('end', () => {
      leaveSocket(flight.tracker);
      flight.cancel();
    });
    body.on('error', () => flight.cancel());
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** The body itself (decoded when `decompress` is on): a Node Readable. */
  get body(): Readable {
    return this.#body;
  }

  /**
   * Blocks for the next chunk of the body and returns it; null once the body has ended.
   * @throws HttpTimeoutError past the read's timeout (phase 'body') or the request's `timeout`
   *   (phase 'total'); HttpConnectionError / HttpError if the body broke off; FiberError if
   *   another greenlet is reading this body.
   */
  read(options: ReadOptions = {}): Buffer | null {
    const read = readOptions(options, 'options', ['timeout']);
    const timeout = read.timeout === undefined ? this.#readTimeout : checkTimeout(read.timeout, 'options.timeout');
    return this.#reader.read(Infinity, timeout, 'read()');
  }

  *[Symbol.iterator](): Generator<Buffer, void, undefined> {
    for (let chunk = this.read(); chunk !== null; chunk = this.read()) yield chunk;
  }

  /** Reads the rest of the body. Blocks. @throws HttpBodyTooLargeError past maxBodySize. */
  readAll(): Buffer {
    const parts: Buffer[] = [];
    let size = 0;
    for (const chunk of this) {
      size += chunk.length;
      if (size > this.#maxBodySize) {
        this.close();
        throw new HttpBodyTooLargeError(`${this.#what}: the response body is larger than maxBodySize (${this.#maxBodySize} bytes)`);
      }
      parts.push(chunk);
    }
    return Buffer.concat(parts, size);
  }

  text(): string {
    return this.readAll().toString('utf8');
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** Drops the rest of the body and closes its connection if it is still busy. Idempotent; never blocks. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#flight.cancel();
    if (!this.#reader.ended) {
      interruptRequest(this.#flight.tracker);
      this.#body.destroy();
    }
    this.#reader.drop();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The whole of `body`, or a rejection past `limit` bytes (counted after decoding). */
function readBody(body: Readable, limit: number, what: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        reject(new HttpBodyTooLargeError(`${what}: the response body is larger than maxBodySize (${limit} bytes)`));
      } else chunks.push(chunk);
    });
    body.on('end', () => resolve(Buffer.concat(chunks, size)));
    body.on('error', reject);
  });
}

// Lenient at the end, as curl, browsers and undici's fetch are: a body that stops at a flush point
// short of the format's trailer is taken as it stands (a broken one still fails). An empty body
// decodes to nothing.
const zlibLenient = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const brotliLenient = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };
const decoders: Record<string, () => zlib.Gunzip | zlib.BrotliDecompress | zlib.Inflate> = {
  gzip: () => zlib.createGunzip(zlibLenient),
  'x-gzip': () => zlib.createGunzip(zlibLenient),
  br: () => zlib.createBrotliDecompress(brotliLenient),
  deflate: () => zlib.createInflate(zlibLenient),
};

// Responses that have no body whatever their headers say (RFC 9110 6.3, 6.4.1): nothing to decode,
// and a content-length that is not theirs.
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);
const hasNoBody = (method: string, status: number): boolean => method === 'HEAD' || nullBodyStatuses.has(status);

/**
 * The body decoded per its content-encoding (one known coding), or undefined when it is not
 * encoded, encoded in a way we leave alone, or has no body (a HEAD request; 204, 304). Errors of
 * either stream reach the decoded one.
 */
function decoded(body: Readable, headers: Headers, method: string, status: number): Readable | undefined {
  const encoding = headers['content-encoding'];
  if (typeof encoding !== 'string' || hasNoBody(method, status)) return undefined;
  const make = decoders[encoding.trim().toLowerCase()];
  if (make === undefined) return undefined;
  const decoder = make();
  pipeline(body, decoder, () => {
    // pipeline destroys both streams on failure; the decoder's 'error' reaches the reader.
  });
  delete headers['content-encoding'];
  delete headers['content-length'];
  return decoder;
}

// `headers` once checkRequestOptions() has taken the pairs out of any other iterable.
type CheckedHeaders = Record<string, string | string[]> | Array<[string, string]> | undefined | null;

function hasHeader(headers: CheckedHeaders, name: string): boolean {
  if (headers === undefined || headers === null) return false;
  const names = Array.isArray(headers) ? headers.map(([key]) => key) : Object.keys(headers);
  return names.some((key) => String(key).toLowerCase() === name);
}

function withHeader(headers: CheckedHeaders, name: string, value: string): CheckedHeaders {
  if (headers === undefined || headers === null) return { [name]: value };
  if (Array.isArray(headers)) return [...headers, [name, value]];
  return { ...headers, [name]: value };
}

/** `headers` as undici takes them: an array of pairs flattened to [name, value, name, value, …]. */
function undiciHeaders(headers: CheckedHeaders): Record<string, string | string[]> | string[] | undefined | null {
  return Array.isArray(headers) ? headers.flat() : headers;
}

/**
 * Sends an HTTP request and blocks until the response (and, unless `stream` is set, its whole
 * body) has arrived. Any status is a response, not an error. Connections are kept alive and
 * pooled per origin, shared by every greenlet. Bodies in gzip, br or deflate are decoded (see
 * `decompress`).
 *
 * A request interrupted in any way (its `timeout`, a Timeout, a kill, a failure) is aborted and
 * the connection it was on is destroyed, not left to the pool. A URL's `user:password@` goes as
 * Basic authorization (unless `headers` have one) and is left out of messages and `response.url`.
 * @throws HttpBadUrlError, HttpConnectionError (refused, reset, host not found),
 *   HttpTimeoutError (`phase`), HttpBodyTooLargeError (also for a body that decodes past
 *   maxBodySize), HttpError (anything else, with `cause`); undici's InvalidArgumentError for bad
 *   options (a programming error); BlockingOnHubError outside a greenlet.
 */
export function request(url: string | URL, options: RequestOptions & { stream: true }): HttpStreamResponse;
export function request(url: string | URL, options?: RequestOptions & { stream?: false }): HttpResponse;
export function request(url: string | URL, options?: RequestOptions): HttpResponse | HttpStreamResponse;
export function request(url: string | URL, options: RequestOptions = {}): HttpResponse | HttpStreamResponse {
  return send(url, checkRequestOptions(options) as RequestOptions);
}

const dispatcherRequest = Dispatcher.prototype.request as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData<unknown>>;

/**
 * undici's request() on `dispatcher` with `options` (origin and path included). A dispatcher that
 * is not an undici Dispatcher (only `dispatch()`) goes through undici.request(), which takes any.
 */
function startRequest(dispatcher: Dispatcher, url: URL, options: Record<string | symbol, unknown>): Promise<Dispatcher.ResponseData<unknown>> {
  if (dispatcher instanceof Dispatcher) return dispatcherRequest.call(dispatcher, options as unknown as Dispatcher.RequestOptions);
  return undiciRequest(url, { ...options, origin: undefined, path: undefined, dispatcher } as unknown as Parameters<typeof undiciRequest>[1]);
}

/** request() with `options` already checked (a plain object of the known keys). */
function send(url: string | URL, options: RequestOptions): HttpResponse | HttpStreamResponse {
  const parsed = parseUrl(url);
  const credentials = takeCredentials(parsed);
  const method = (options.method ?? 'GET').toUpperCase();
  const timeout = checkTimeout(options.timeout, 'options.timeout');
  const connectTimeout = undiciTime(options.connectTimeout, 'connectTimeout') ?? DEFAULT_CONNECT_TIMEOUT;
  const maxBodySize = number(options.maxBodySize, 'maxBodySize', 0) ?? DEFAULT_MAX_BODY_SIZE;
  const connections = number(options.connections, 'connections', 1);
  const readTimeout = checkTimeout(options.readTimeout, 'options.readTimeout');
  const decompress = options.decompress ?? true;
  // Left out when not given: a redirect interceptor of the caller's own dispatcher keeps its default.
  const maxRedirections = number(options.maxRedirections, 'maxRedirections', 0);
  const what = `${method} ${parsed.href}`;
  assertCanBlock();
  const tracker = newTracker();
  let dispatcher: Dispatcher;
  if (options.dispatcher === undefined) {
    dispatcher = agentFor(connections, connectTimeout, maxRedirections);
  } else {
    const wrapped = tracked(options.dispatcher, maxRedirections);
    if (wrapped === undefined) {
      if (maxRedirections !== undefined && maxRedirections > 0) {
        throw invalidArgument('options.maxRedirections', '0 (options.dispatcher has no compose() to take undici\'s redirect interceptor)', maxRedirections, true);
      }
      tracker.abortController = new AbortController();
    }
    dispatcher = wrapped ?? options.dispatcher;
  }
  let given = options.headers as CheckedHeaders;
  if (credentials !== undefined && !hasHeader(given, 'authorization')) {
    given = withHeader(given, 'authorization', `Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  const headers = undiciHeaders(decompress && !hasHeader(given, 'accept-encoding') ? withHeader(given, 'accept-encoding', 'gzip, br') : given);
  let timer: LongTimer | undefined;
  const flight: Flight = {
    tracker,
    timedOut: false,
    cancel(): void {
      timer?.cancel();
      timer = undefined;
    },
  };
  if (timeout !== undefined) {
    timer = setLongTimeout(() => {
      flight.timedOut = true;
      interruptRequest(tracker, new HttpTimeoutError('total', `${what} timed out after ${timeout} ms (timeout)`));
    }, timeout, undefined);
  }
  let body: Readable | undefined;
  let done = false;
  try {
    let response: Dispatcher.ResponseData<unknown>;
    let data: Buffer | undefined;
    try {
      // One park per request: reading the body is chained onto the response promise, so the
      // greenlet is woken once, with everything, rather than once for the headers and again for
      // the body.
      // What undici.request(url, options) would build, built once here: it would parse the URL
      // again and copy the options.
      const requestOptions: Record<string | symbol, unknown> = {
        origin: parsed.origin,
        path: parsed.pathname + parsed.search,
        method,
        headers,
        body: options.body ?? undefined,
        signal: tracker.abortController?.signal,
        headersTimeout: undiciTime(options.headersTimeout, 'headersTimeout'),
        bodyTimeout: undiciTime(options.bodyTimeout, 'bodyTimeout'),
        maxRedirections,
      };
      // A redirect's later hops are dispatched with a copy of these options, so the tracker goes
      // in them; otherwise it is handed over beside them: a symbol key among the options sends
      // undici's copies of them down V8's slow path (a new hidden class per request).
      if (maxRedirections !== undefined && maxRedirections > 0) requestOptions[kTracker] = tracker;
      const sent = dispatchTracked(tracker, () => startRequest(dispatcher, parsed, requestOptions)).then((received): Promise<[Dispatcher.ResponseData<unknown>, Buffer | undefined]> | [Dispatcher.ResponseData<unknown>, undefined] => {
        body = received.body;
        const decodedBody = decompress ? decoded(received.body, received.headers as Headers, method, received.statusCode) : undefined;
        if (decodedBody !== undefined) body = decodedBody;
        if (options.stream) return [received, undefined];
        const length = hasNoBody(method, received.statusCode) ? 0 : Number((received.headers as Headers)['content-length']);
        if (length > maxBodySize) {
          throw new HttpBodyTooLargeError(`${what}: the response body (${length} bytes) is larger than maxBodySize (${maxBodySize} bytes)`);
        }
        return readBody(body, maxBodySize, what).then((buffer) => [received, buffer]);
      });
      // What the greenlet waits for: the request's outcome, or the reason it was given up on, at
      // once (a request still waiting for a connection has nothing undici could abort yet).
      const waiter = new Waiter<[Dispatcher.ResponseData<unknown>, Buffer | undefined]>();
      tracker.fail = (reason) => waiter.throw(reason);
      sent.then(
        (outcome) => waiter.switch(outcome),
        (error: unknown) => waiter.throw(error),
      );
      [response, data] = waiter.get();
      tracker.fail = undefined;
    } catch (error) {
      throw httpError(error, what, flight.timedOut);
    }
    const responseHeaders = response.headers as Headers;
    done = true;
    if (options.stream) {
      return new HttpStreamResponse(response.statusCode, responseHeaders, body!, parsed.href, what, maxBodySize, readTimeout, flight);
    }
    leaveSocket(tracker);
    return new HttpResponse(response.statusCode, responseHeaders, data!, parsed.href);
  } finally {
    if (!done) {
      // Failed or interrupted (a kill, a Timeout): abandon the request and free its connection.
      interruptRequest(tracker);
      body?.destroy();
    }
    if (!options.stream || !done) flight.cancel();
  }
}

/** `request(url, { ...options, method: 'GET' })`. Blocks. */
export function get(url: string | URL, options?: Omit<RequestOptions, 'method' | 'body'> & { stream?: false }): HttpResponse;
export function get(url: string | URL, options: Omit<RequestOptions, 'method' | 'body'> & { stream: true }): HttpStreamResponse;
export function get(url: string | URL, options: Omit<RequestOptions, 'method' | 'body'> = {}): HttpResponse | HttpStreamResponse {
  const checked = checkRequestOptions(options) as RequestOptions;
  checked.method = 'GET';
  return send(url, checked);
}

export { closeAll, HttpError, HttpTimeoutError, HttpConnectionError, HttpBadUrlError, HttpBodyTooLargeError };
