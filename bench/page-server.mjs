// The crawl sweep's site: serves 10 KB pages on loopback from a process of its own, so the
// crawlers measured against it share no core time with it. Prints its base URL, then serves until
// killed. `/page/<n>` answers 200 with a 10,240-byte HTML body.
import { createServer } from 'node:http';

const body = Buffer.from(`<html><body>${'x'.repeat(10_240 - 26)}</body></html>`);
const server = createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length });
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));
