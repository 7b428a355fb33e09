// The whole error family of greenfiber. Failures derive from GreenfiberError and carry a stable
// `code`; control-flow exceptions (FiberExit, GreenletExit) deliberately do not, so that
// `catch (e) { if (e instanceof GreenfiberError) … }` never swallows a kill.

/**
 * Brands `cls` so that `instanceof cls` also recognises instances made by another copy of
 * greenfiber loaded in the same process (as undici does for its errors).
 * @internal
 */
export function brand(cls: abstract new (...args: never[]) => unknown, name: string): void {
  const symbol = Symbol.for(`greenfiber.${name}`);
  Object.defineProperty(cls.prototype, symbol, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[symbol] === true;
    },
  });
}

/** Root of every greenfiber failure. `code` is stable across versions. */
export class GreenfiberError extends Error {
  readonly code: string = 'GF_ERR';
  override name = 'GreenfiberError';

  constructor(message = 'greenfiber failed', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(GreenfiberError, 'GreenfiberError');

/**
 * Misuse of a fiber: switching to a dead or running fiber, a bad parent, a fiber of another
 * thread. Usually a programming error.
 */
export class FiberError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_FIBER';
  override name = 'FiberError';

  constructor(message = 'invalid fiber operation', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(FiberError, 'FiberError');

/** The native addon could not be loaded; the message says how to fix the installation. */
export class NativeLoadError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_NATIVE_LOAD';
  override name = 'NativeLoadError';
}
brand(NativeLoadError, 'NativeLoadError');

/**
 * Raised inside a fiber to unwind it: what `fiber.throw()` sends by default, and what a collected
 * suspended fiber receives. Not a failure: a fiber that lets it escape ends normally and its parent
 * receives the FiberExit instance as the value; catching and swallowing it ends the fiber normally.
 */
export class FiberExit extends Error {
  override name = 'FiberExit';

  constructor(message = 'fiber exited') {
    super(message);
  }
}
brand(FiberExit, 'FiberExit');

/** A non-blocking get (or one whose timeout expired) found the queue empty. */
export class QueueEmpty extends GreenfiberError {
  override readonly code: string = 'GF_ERR_QUEUE_EMPTY';
  override name = 'QueueEmpty';

  constructor(message = 'the queue is empty: nothing arrived in time (use a blocking get() without a timeout to wait for an item)', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(QueueEmpty, 'QueueEmpty');

/** A non-blocking put (or one whose timeout expired) found the queue full. */
export class QueueFull extends GreenfiberError {
  override readonly code: string = 'GF_ERR_QUEUE_FULL';
  override name = 'QueueFull';

  constructor(message = 'the queue is full: no room was made in time (use a blocking put() without a timeout to wait for room)', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(QueueFull, 'QueueFull');

/**
 * The queue was shut down (`queue.shutdown()`): puts fail, and gets fail once it is drained.
 * Iterating a queue ends quietly on it.
 */
export class QueueShutDown extends GreenfiberError {
  override readonly code: string = 'GF_ERR_QUEUE_SHUT_DOWN';
  override name = 'QueueShutDown';

  constructor(message = 'the queue has been shut down', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(QueueShutDown, 'QueueShutDown');

/**
 * Released more than acquired: a BoundedSemaphore or Lock released past its bound, an RLock
 * released by a greenlet that does not hold it, taskDone() called more times than items were put.
 * Usually a programming error (gevent raises ValueError / RuntimeError here).
 */
export class OverReleaseError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_OVER_RELEASE';
  override name = 'OverReleaseError';

  constructor(message = 'released more times than acquired', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(OverReleaseError, 'OverReleaseError');

/**
 * A ThreadPool worker died while running a call (process.exit() in the worker, an uncaught error
 * outside the call, out of memory). The worker is replaced; the call is not retried.
 */
export class WorkerCrashedError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_WORKER_CRASHED';
  override name = 'WorkerCrashedError';

  constructor(message = 'a ThreadPool worker crashed while running the call', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(WorkerCrashedError, 'WorkerCrashedError');

/** The ThreadPool was closed (close() / kill()): it takes no more calls, and pending ones fail. */
export class ThreadPoolClosedError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_THREADPOOL_CLOSED';
  override name = 'ThreadPoolClosedError';

  constructor(message = 'the ThreadPool is closed: create a new one to run more calls', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(ThreadPoolClosedError, 'ThreadPoolClosedError');

/**
 * A blocking call was made outside any greenlet, in a loop callback (a timer, an I/O callback, a
 * promise reaction): the hub cannot park itself. Usually a programming error: run the code in a
 * greenlet with `spawn(fn)`, or wrap the program in `main(fn)`.
 */
export class BlockingOnHubError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_BLOCKING_ON_HUB';
  override name = 'BlockingOnHubError';

  constructor(
    message = 'cannot block here: this code runs on the hub (in an event loop callback, outside any greenlet), which must never block. ' +
      'Run it in a greenlet with spawn(fn), or wrap the program in main(fn)',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
brand(BlockingOnHubError, 'BlockingOnHubError');

/**
 * A blocking call on the main fiber (at the top level of a CommonJS script) can never complete:
 * the event loop has nothing left that could wake it (gevent's LoopExit).
 */
export class LoopExit extends GreenfiberError {
  override readonly code: string = 'GF_ERR_LOOP_EXIT';
  override name = 'LoopExit';

  constructor(message = 'this operation would block forever: the event loop has nothing left that could wake it', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(LoopExit, 'LoopExit');

/**
 * Raised inside a greenlet to kill it: what `greenlet.kill()` sends by default. Not a failure: a
 * greenlet that lets it escape ends successfully with the GreenletExit as its value. A FiberExit,
 * so raw fibers unwind on it too.
 */
export class GreenletExit extends FiberExit {
  override name = 'GreenletExit';

  constructor(message = 'greenlet killed') {
    super(message);
  }
}
brand(GreenletExit, 'GreenletExit');

/**
 * Root of the failures of greenfiber/http's blocking client. `cause` holds undici's or Node's
 * own error when there is one.
 */
export class HttpError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_HTTP';
  override name = 'HttpError';

  constructor(message = 'the HTTP request failed', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(HttpError, 'HttpError');

/**
 * An HTTP request ran out of time. `phase` says which limit: `connect` (connectTimeout),
 * `headers` (headersTimeout), `body` (bodyTimeout: no data for that long) or `total` (timeout).
 */
export class HttpTimeoutError extends HttpError {
  override readonly code: string = 'GF_ERR_HTTP_TIMEOUT';
  override name = 'HttpTimeoutError';
  readonly phase: 'connect' | 'headers' | 'body' | 'total';

  constructor(phase: 'connect' | 'headers' | 'body' | 'total', message = `the HTTP request timed out (${phase})`, options?: ErrorOptions) {
    super(message, options);
    this.phase = phase;
  }
}
brand(HttpTimeoutError, 'HttpTimeoutError');

/**
 * The connection to the server failed or broke: refused, reset, closed early, name not found.
 * `cause.code` has the system's code (ECONNREFUSED, ECONNRESET, ENOTFOUND, UND_ERR_SOCKET).
 */
export class HttpConnectionError extends HttpError {
  override readonly code: string = 'GF_ERR_HTTP_CONNECTION';
  override name = 'HttpConnectionError';

  constructor(message = 'the connection to the HTTP server failed', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(HttpConnectionError, 'HttpConnectionError');

/** The URL cannot be requested: not a URL, or not http: / https:. Usually a programming error. */
export class HttpBadUrlError extends HttpError {
  override readonly code: string = 'GF_ERR_HTTP_BAD_URL';
  override name = 'HttpBadUrlError';

  constructor(message = 'expected an absolute http: or https: URL', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(HttpBadUrlError, 'HttpBadUrlError');

/** The response body is larger than `maxBodySize`: raise the limit, or read it with `stream: true`. */
export class HttpBodyTooLargeError extends HttpError {
  override readonly code: string = 'GF_ERR_HTTP_BODY_TOO_LARGE';
  override name = 'HttpBodyTooLargeError';

  constructor(message = 'the HTTP response body is larger than maxBodySize: raise the limit, or read the body in chunks with stream: true', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(HttpBodyTooLargeError, 'HttpBodyTooLargeError');

/** A blocking socket call of greenfiber/net ran past its timeout (gevent's socket.timeout). */
export class SocketTimeoutError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_SOCKET_TIMEOUT';
  override name = 'SocketTimeoutError';

  constructor(message = 'the socket operation timed out', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(SocketTimeoutError, 'SocketTimeoutError');

/** The stream ended before `readExactly(n)` got its n bytes; `partial` holds those that came. */
export class IncompleteReadError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_INCOMPLETE_READ';
  override name = 'IncompleteReadError';
  readonly partial: Buffer;
  readonly expected: number;

  constructor(partial: Buffer, expected: number, message = `the stream ended after ${partial.length} of ${expected} bytes`, options?: ErrorOptions) {
    super(message, options);
    this.partial = partial;
    this.expected = expected;
  }
}
brand(IncompleteReadError, 'IncompleteReadError');

/**
 * A greenfiber/net Socket was used after it was closed: by its close() (or dispose), or by a
 * call of it cut from outside (a kill, a Timeout), which closes it. Not raised when the peer
 * ended or reset the connection (reads return the end, the peer's error is thrown).
 */
export class SocketClosedError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_SOCKET_CLOSED';
  override name = 'SocketClosedError';

  constructor(message = 'the socket is closed: connect a new one', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(SocketClosedError, 'SocketClosedError');
