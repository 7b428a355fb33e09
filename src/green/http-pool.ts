// The shared keep-alive pools of greenfiber/http, and which connection carries each request, so
// that an interrupted request destroys its connection (src/green/http.ts uses both).
import dc = require('node:diagnostics_channel');
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, buildConnector, interceptors, type Dispatcher } from 'undici';
import { wait } from '../wait';

// Which connection carries a request, so that an interrupted request can destroy it. undici,
// when a request is aborted in flight, destroys its socket with an "informational" error that
// makes the pool reconnect and keep an idle connection open for keepAliveTimeout; a socket
// destroyed with a real error fails its request and is not replaced.
export interface Tracker {
  /** The socket the request is on, from its headers being sent until its response ended. */
  socket: net.Socket | undefined;
  /**
   * A connection a shared pool began establishing for this request (its dispatch started it: it
   * is that connection's only request), until the request is sent on a socket or ends.
   */
  connecting: net.Socket | undefined;
  /** The shared pool where this request waits to be sent (dispatched, not yet started), if any. */
  waitingIn: Shared | undefined;
  /** Set once the caller gave up on the request: a later dispatch of it is refused. */
  interrupted: boolean;
  /** undici's controller of the request once it started (aborts it; set by the tracking interceptor). */
  controller: Dispatcher.DispatchController | undefined;
  /**
   * For a dispatcher the interceptor cannot wrap (no `compose`): an AbortController whose signal
   * went with the request. Only then: an AbortSignal costs a request about a third of its CPU time.
   */
  abortController: AbortController | undefined;
  /** Rejects what the caller is waiting for at once (a request still queued has no controller yet). */
  fail: ((reason: unknown) => void) | undefined;
}

/** A tracker for a new request. */
export function newTracker(): Tracker {
  return { socket: undefined, connecting: undefined, waitingIn: undefined, interrupted: false, controller: undefined, abortController: undefined, fail: undefined };
}

export const kTracker = Symbol('greenfiber.http.tracker');
// The tracker whose request undici is starting to write now (set in onRequestStart, taken by the
// sendHeaders message that undici publishes synchronously right after it on the same socket).
let starting: Tracker | undefined;
dc.subscribe('undici:client:sendHeaders', (message) => {
  if (starting !== undefined) {
    board(starting, (message as { socket: net.Socket }).socket);
    starting = undefined;
  }
});

// How many tracked requests are on each connection now: HTTP/2 carries many at once on one
// session, HTTP/1.1 with `pipelining` several in a row. Only a request alone on its connection
// may destroy it; the others on it would fail with its reason. Kept on the socket itself under a
// symbol: a WeakMap entry set and deleted per request cost a crawl more than the rest of tracking.
const kRiders = Symbol('greenfiber.http.riders');
type TrackedSocket = net.Socket & { [kRiders]?: number };

function board(tracker: Tracker, socket: net.Socket): void {
  leaveSocket(tracker);
  tracker.connecting = undefined;
  tracker.socket = socket;
  const tracked = socket as TrackedSocket;
  tracked[kRiders] = (tracked[kRiders] ?? 0) + 1;
}

/** The request no longer uses its connection (its response ended, or it was given up on). */
export function leaveSocket(tracker: Tracker): void {
  const socket = tracker.socket as TrackedSocket | undefined;
  if (socket === undefined) return;
  tracker.socket = undefined;
  socket[kRiders] = Math.max((socket[kRiders] ?? 1) - 1, 0);
}

/** Forwards every handler call to `inner`, keeping `tracker` told which socket the request is on. */
class TrackingHandler implements Dispatcher.DispatchHandler {
  constructor(
    readonly inner: Dispatcher.DispatchHandler,
    readonly tracker: Tracker,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    stopWaiting(this.tracker);
    // A request given up on while it waited for a connection: refusing it here fails it without
    // touching the connection, which goes back to the pool healthy.
    if (this.tracker.interrupted) throw new Error('greenfiber/http: the request was interrupted before it was sent');
    this.tracker.controller = controller;
    starting = this.tracker;
    queueMicrotask(() => {
      if (starting === this.tracker) starting = undefined;
    });
    this.inner.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>, socket: Duplex): void {
    this.inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>, statusMessage?: string): void {
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    leaveSocket(this.tracker);
    stopWaiting(this.tracker);
    this.tracker.connecting = undefined;
    this.tracker.controller = undefined;
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    leaveSocket(this.tracker);
    stopWaiting(this.tracker);
    this.tracker.connecting = undefined;
    this.tracker.controller = undefined;
    this.inner.onResponseError?.(controller, error);
  }
}

// The tracker of the request being dispatched now, for the request that dispatchTracked() starts:
// undici dispatches it synchronously, before request() returns.
let dispatching: Tracker | undefined;

/** Runs `start` (an undici call that dispatches one request at once) with that request tracked by `tracker`. */
export function dispatchTracked<T>(tracker: Tracker, start: () => T): T {
  dispatching = tracker;
  try {
    return start();
  } finally {
    dispatching = undefined;
  }
}

// The tracker whose request undici is dispatching now, below the tracking interceptor: a shared
// pool's connector called meanwhile opens the connection for that request alone (undici connects
// synchronously in dispatch when no pooled connection is free).
let opening: Tracker | undefined;

/** The tracking interceptor; for a shared pool's dispatcher, `shared` counts the requests waiting in it. */
const trackIn = (shared: Shared | undefined): Dispatcher.DispatcherComposeInterceptor => (dispatch) => (options, handler) => {
  let tracker = (options as { [kTracker]?: Tracker })[kTracker];
  if (tracker === undefined && dispatching !== undefined) {
    tracker = dispatching;
    dispatching = undefined; // one request only
  }
  if (tracker === undefined) return dispatch(options, handler);
  if (shared !== undefined && tracker.waitingIn === undefined && !tracker.interrupted) {
    tracker.waitingIn = shared;
    shared.waiting++;
  }
  const outer = opening;
  opening = tracker;
  try {
    return dispatch(options, new TrackingHandler(handler, tracker));
  } finally {
    opening = outer;
  }
};

const track = trackIn(undefined);

function stopWaiting(tracker: Tracker): void {
  const shared = tracker.waitingIn;
  if (shared === undefined) return;
  tracker.waitingIn = undefined;
  shared.waiting--;
}

/**
 * Gives up on a request: destroys the connection it is on (if it is alone there), aborts it, and
 * rejects what its caller waits for with `reason`. Idempotent.
 */
export function interruptRequest(tracker: Tracker, reason?: Error): void {
  if (tracker.interrupted) return;
  tracker.interrupted = true;
  const shared = tracker.waitingIn;
  stopWaiting(tracker);
  const cause = reason ?? Object.assign(new Error('greenfiber/http: the request was interrupted'), { code: 'ECANCELED' });
  // An HTTP/2 session is never destroyed for one of its streams: aborting the stream (below) ends
  // it alone, and the session stays good for the others.
  const socket = tracker.socket;
  const alone = socket !== undefined && (socket as TrackedSocket)[kRiders] === 1 && (socket as { alpnProtocol?: unknown }).alpnProtocol !== 'h2';
  leaveSocket(tracker);
  if (alone && !socket.destroyed) socket.destroy(cause);
  // A connection still being established for this request alone (a stalled TCP or TLS handshake)
  // would otherwise stay open until connectTimeout.
  const connecting = tracker.connecting;
  tracker.connecting = undefined;
  if (socket === undefined && connecting !== undefined && !connecting.destroyed && !((connecting as TrackedSocket)[kRiders]! > 0)) connecting.destroy(cause);
  // It was the last request waiting in its shared pool: connections the pool opened for requests
  // of its queue, all given up on now, and never used, go too (a stalled handshake would keep
  // each until connectTimeout).
  if (shared !== undefined && shared.waiting === 0) {
    for (const pooled of shared.sockets) if ((pooled as TrackedSocket)[kRiders] === undefined && !pooled.destroyed) pooled.destroy(cause);
  }
  const controller = tracker.controller;
  tracker.controller = undefined;
  if (controller !== undefined && !controller.aborted) controller.abort(cause);
  if (tracker.abortController !== undefined && !tracker.abortController.signal.aborted) tracker.abortController.abort(reason);
  const fail = tracker.fail;
  tracker.fail = undefined;
  fail?.(cause);
}

// undici's socket listeners read the socket's parser, which its 'close' listener frees; they
// assume Node's order ('error' and 'end', queued with nextTick, before 'close'). While the top
// level of a script drives the loop (src/park.ts driveFor), libuv callbacks run nested, so
// nextTicks are not drained between them: a reset socket's handle-close callback can emit
// 'close' before the queued 'error' (ECONNRESET) or 'end', and undici would throw from that
// event ("Cannot read properties of null (reading 'statusCode')"), killing the process. So once
// an undici socket (any undici client's: ours, the caller's, fetch's) closed, its undici 'error'
// and 'end' listeners are dropped and late errors are swallowed: nobody reads that socket again.
const undiciLateListeners = new Set(['onHttpSocketError', 'onHttpSocketEnd']);
function dropLateListeners(socket: net.Socket): void {
  for (const event of ['error', 'end'] as const) {
    for (const listener of socket.listeners(event)) {
      if (undiciLateListeners.has((listener as { name?: string }).name ?? '')) socket.removeListener(event, listener as () => void);
    }
  }
  socket.on('error', () => {});
}
dc.subscribe('undici:client:connected', (message) => {
  const socket = (message as { socket?: net.Socket }).socket;
  if (socket !== undefined && typeof socket.once === 'function') socket.once('close', () => dropLateListeners(socket));
});

// The shared keep-alive pools: undici Agents (one Pool per origin each), by connection settings,
// with every socket they opened, connecting ones included (closeAll() destroys them all; undici's
// destroy() leaves a connection still being established to finish connecting first).
interface Shared {
  agent: Agent;
  dispatcher: Dispatcher;
  redirecting: Dispatcher;
  sockets: Set<net.Socket>;
  /** Its requests dispatched and not yet sent, not given up on. */
  waiting: number;
}
const agents = new Map<string, Shared>();

// Every request a shared pool still has queued was given up on: undici would connect for each in
// turn (then refuse it, onRequestStart), against a server that stalls a handshake for up to
// connectTimeout each. Refused at once instead, no socket made.
function noneWaiting(): Error {
  return Object.assign(new Error('greenfiber/http: every request waiting for this connection was interrupted'), { code: 'ECANCELED' });
}

/**
 * The shared pool for these settings, tracked; with undici's redirect interceptor only when the
 * request follows redirects (`redirects` > 0): on every other request it only copies the options.
 */
export function agentFor(connections: number | undefined, connectTimeout: number, redirects: number | undefined): Dispatcher {
  const key = `${connections ?? ''}/${connectTimeout}`;
  let entry = agents.get(key);
  if (entry === undefined) {
    const sockets = new Set<net.Socket>();
    // buildConnector's function returns the socket it made (not in undici's types).
    const connector = buildConnector({ timeout: connectTimeout }) as unknown as (options: buildConnector.Options, callback: buildConnector.Callback) => net.Socket | undefined;
    const connect = (options: buildConnector.Options, callback: buildConnector.Callback): void => {
      // opening: the dispatch of a request that waits (it opens its own connection). Otherwise undici
      // connects for a request of its queue (a connection closed, or one came free).
      if (opening === undefined && shared.waiting === 0) {
        queueMicrotask(() => callback(noneWaiting(), null));
        return;
      }
      const socket = connector(options, callback);
      if (socket !== undefined) {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        if (opening !== undefined) opening.connecting = socket;
      }
    };
    const agent = new Agent({ connections: connections ?? null, connect });
    // track first: it sees each hop of a redirect on its own connection.
    const shared: Shared = { agent, dispatcher: agent, redirecting: agent, sockets, waiting: 0 };
    shared.dispatcher = agent.compose(trackIn(shared));
    shared.redirecting = agent.compose(trackIn(shared), interceptors.redirect());
    entry = shared;
    agents.set(key, entry);
  }
  return redirects === undefined || redirects === 0 ? entry.dispatcher : entry.redirecting;
}

// Dispatchers of the caller's own (options.dispatcher), tracked too, composed once each.
const composed = new WeakMap<Dispatcher, { plain: Dispatcher; redirecting: Dispatcher }>();

/**
 * `dispatcher` with the tracking interceptor and the redirect interceptor (undici 7's dispatchers
 * refuse `maxRedirections` themselves), or undefined if it cannot take them (no `compose`). A
 * request without `maxRedirections` passes the redirect interceptor untouched, so a redirect
 * interceptor the caller composed in keeps its own default.
 */
export function tracked(dispatcher: Dispatcher, redirects: number | undefined): Dispatcher | undefined {
  if (typeof dispatcher.compose !== 'function') return undefined;
  let wrapped = composed.get(dispatcher);
  if (wrapped === undefined) {
    wrapped = { plain: dispatcher.compose(track), redirecting: dispatcher.compose(track, interceptors.redirect()) };
    composed.set(dispatcher, wrapped);
  }
  // Our redirect interceptor passes a request without redirects (undefined or 0) on untouched.
  return redirects === undefined || redirects === 0 ? wrapped.plain : wrapped.redirecting;
}

/**
 * Closes every connection of the shared pools now, idle or busy: requests still running on them
 * fail with HttpConnectionError (streamed bodies too). Later requests open new pools. Dispatchers
 * passed as `options.dispatcher` are the caller's to close. Blocks until every socket is closed.
 */
export function closeAll(): void {
  const closing = [...agents.values()].map(({ agent, sockets }) => {
    const destroyed = agent.destroy();
    for (const socket of sockets) socket.destroy();
    return destroyed;
  });
  agents.clear();
  wait(Promise.all(closing));
}
