// patchHttp(): every 'request' listener of an http or https server runs in a fresh greenlet, so
// handlers may block and still overlap, within the server's limits (src/green/server-limits.ts).
// A handler's error is reported like any greenlet error and answered with a 500 when nothing was
// sent yet; the server goes on.
import http = require('node:http');
import https = require('node:https');
import { patchOnce } from './state';
import { greenListener, patchListenerMethods, type Client } from './server';

function runRequest(listener: Function, server: unknown, args: unknown[]): unknown {
  const response = args[1] as http.ServerResponse;
  try {
    return Reflect.apply(listener, server, args);
  } catch (error) {
    if (!response.headersSent && !response.destroyed) {
      response.statusCode = 500;
      response.setHeader('content-type', 'text/plain; charset=utf-8');
      response.setHeader('connection', 'close');
      response.end('Internal Server Error\n');
    } else if (!response.writableEnded) {
      response.destroy();
    }
    // Reported by the greenlet, like any uncaught greenlet error (hub.onError, hub.strict).
    throw error;
  }
}

function clientOf(args: unknown[]): Client {
  const request = args[0] as http.IncomingMessage;
  const response = args[1] as http.ServerResponse;
  return {
    name: `http ${request.method} ${request.url}`,
    // Gone: the connection closed before the response was finished.
    gone: () => !response.writableFinished && (response.destroyed || request.socket.destroyed),
    onGone(callback) {
      const onClose = (): void => {
        if (!response.writableFinished) callback();
      };
      response.once('close', onClose);
      return () => response.off('close', onClose);
    },
    refuse() {
      if (response.headersSent || response.destroyed) return;
      response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1', connection: 'close' });
      response.end('Service Unavailable: too many requests in progress\n');
    },
  };
}

/**
 * Patches `http.Server.prototype` and `https.Server.prototype` in place: a 'request' listener
 * added from now on (by `createServer(listener)`, `new Server(listener)` or `server.on('request',
 * listener)`) runs each request in a greenlet of its own, named `http METHOD URL`. Idempotent.
 *
 * Bounded by default (see ServerLimits, limitServer(), setServerDefaults()): at most
 * `maxHandlers` (DEFAULT_MAX_HANDLERS) handlers run per server; up to `maxWaiting` more requests
 * wait without a greenlet; past that a request is answered 503. A handler whose client closed
 * the connection before the response was finished is killed (GreenletExit 'client went away').
 * Node's own server timeouts (headersTimeout, requestTimeout, keepAliveTimeout) are untouched.
 */
export function patchHttp(): void {
  patchOnce('http', (patch) => {
    const wrap = (listener: Function): Function => greenListener(listener, runRequest, clientOf);
    const all = (): boolean => true;
    patchListenerMethods(patch, http.Server.prototype, 'request', all, wrap);
    patchListenerMethods(patch, https.Server.prototype, 'request', all, wrap);
  });
}
