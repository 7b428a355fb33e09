// greenfiber/net: blocking-style TCP for greenlets (gevent.socket, gevent.server.StreamServer).
export * from '../green/net';
