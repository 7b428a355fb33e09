// patchHttp(): every 'request' listener of an http or https server runs in a fresh greenlet, so
// handlers may block and still overlap. A handler's error is reported like any greenlet error and
// answered with a 500 when nothing was sent yet; the server goes on.
import http = require('node:http');
import https = require('node:https');
import { patchOnce } from './state';
import { greenListener, patchListenerMethods } from './server';

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

function nameOf(args: unknown[]): string {
  const request = args[0] as http.IncomingMessage;
  return `http ${request.method} ${request.url}`;
}

/**
 * Patches `http.Server.prototype` and `https.Server.prototype` in place: a 'request' listener
 * added from now on (by `createServer(listener)`, `new Server(listener)` or `server.on('request',
 * listener)`) runs each request in a greenlet of its own, named `http METHOD URL`. Idempotent.
 */
export function patchHttp(): void {
  patchOnce('http', (patch) => {
    const wrap = (listener: Function): Function => greenListener(listener, runRequest, nameOf);
    const all = (): boolean => true;
    patchListenerMethods(patch, http.Server.prototype, 'request', all, wrap);
    patchListenerMethods(patch, https.Server.prototype, 'request', all, wrap);
  });
}
