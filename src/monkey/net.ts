// patchNet(): every connection listener of a server made by `net.createServer` runs in a fresh
// greenlet, so it may block; an error it throws is reported and closes that socket only.
import net = require('node:net');
import { patchOnce } from './state';
import { greenListener, patchListenerMethods, type Client } from './server';
import { dress } from './sync-call';

// Servers made by the patched createServer. Node's own servers (http, https, http2, tls) derive
// from net.Server and listen to 'connection' themselves: those listeners must stay as they are.
const green = new WeakSet<object>();

function runConnection(listener: Function, server: unknown, args: unknown[]): unknown {
  try {
    return Reflect.apply(listener, server, args);
  } catch (error) {
    (args[0] as net.Socket).destroy();
    throw error;
  }
}

function clientOf(args: unknown[]): Client {
  const socket = args[0] as net.Socket;
  return {
    name: `net connection from ${socket.remoteAddress}:${socket.remotePort}`,
    gone: () => socket.destroyed,
    onGone(callback) {
      socket.once('close', callback);
      return () => socket.off('close', callback);
    },
    refuse: () => socket.destroy(),
  };
}

/**
 * Patches `net.createServer` in place: the connection listener it is given, and any 'connection'
 * listener added later to a server it made, runs each connection in a greenlet of its own.
 * Idempotent.
 *
 * Bounded by default, as patchHttp's servers are: at most `maxHandlers` handler greenlets per
 * server; up to `maxWaiting` more connections wait, paused, without a greenlet; past that a
 * connection is closed at once. A handler still running when its socket closes is killed
 * (GreenletExit 'client went away'). See ServerLimits, limitServer(), setServerDefaults().
 */
export function patchNet(): void {
  patchOnce('net', (patch) => {
    const createServer = net.createServer;
    const wrap = (listener: Function): Function => greenListener(listener, runConnection, clientOf);
    patchListenerMethods(patch, net.Server.prototype, 'connection', (server) => green.has(server as object), wrap);
    const greenCreateServer = function createServer_(options?: unknown, listener?: unknown): net.Server {
      const server = createServer(typeof options === 'function' ? undefined : (options as net.ServerOpts));
      green.add(server);
      const connectionListener = typeof options === 'function' ? options : listener;
      if (connectionListener !== undefined && connectionListener !== null) server.on('connection', connectionListener as (socket: net.Socket) => void);
      return server;
    };
    patch(net, 'createServer', dress(greenCreateServer, createServer));
  });
}
