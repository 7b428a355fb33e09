// The soak (`npm run soak`, outside `npm test`): about a minute on loopback of a patched http
// server with slow handlers under impatient clients (request, then gone after 2 ms) and slow
// uploaders, while kill storms hit greenlets parked in every kind of blocking call (http, net,
// fs, child_process, sleep, queue). Prints requests, errors, peak and final threads, RSS and fds;
// exits 1 if the final figures are not back near the baseline.
//   SOAK_SECONDS (default 45) sets how long the load runs; draining adds a few seconds.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const dist = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist');
const monkey = require(path.join(dist, 'entries', 'monkey.js'));
monkey.patchAll();
const http = require('node:http');
const net = require('node:net');
const childProcess = require('node:child_process');
const { main, spawn, sleep, killAll, joinAll, Queue, fiberStats, wait } = require(path.join(dist, 'entries', 'index.js'));
const client = require(path.join(dist, 'entries', 'http.js'));
const gnet = require(path.join(dist, 'entries', 'net.js'));

const SECONDS = Number(process.env.SOAK_SECONDS ?? 45);
const threads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const fds = () => fs.readdirSync('/proc/self/fd').length;
// Open fds by kind ('socket', 'pipe', 'anon_inode', or the file's path), for the report.
function fdKinds() {
  const kinds = new Map();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`).replace(/:\[\d+\]$/, '');
    } catch {
      continue;
    }
    kinds.set(target, (kinds.get(target) ?? 0) + 1);
  }
  return kinds;
}
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

const counts = { requests: 0, handled: 0, interruptedHandlers: 0, refused503: 0, impatient: 0, uploads: 0, clientTimeouts: 0, killed: 0, errors: 0 };
const errors = new Map();
function unexpected(where, error) {
  counts.errors++;
  const key = `${where}: ${error?.code ?? error?.name ?? 'error'} ${String(error?.message ?? error).slice(0, 80)}`;
  errors.set(key, (errors.get(key) ?? 0) + 1);
}
const peak = { threads: 0, rss: 0, fds: 0, handlers: 0 };
function sample() {
  peak.threads = Math.max(peak.threads, threads());
  peak.rss = Math.max(peak.rss, rssMb());
  peak.fds = Math.max(peak.fds, fds());
}

// A scratch file for the fs storm.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'greenfiber-soak-'));
const bigFile = path.join(scratch, 'big');
fs.writeFileSync(bigFile, Buffer.alloc(4 * 2 ** 20, 1));

main(() => {
  // The server: slow handlers (they block 30 s unless their client leaves), uploads read whole.
  const server = http.createServer((req, res) => {
    counts.requests++;
    try {
      if (req.url === '/upload') {
        let size = 0;
        req.on('data', (chunk) => (size += chunk.length));
        wait(new Promise((resolve, reject) => {
          // An uploader that leaves ends the wait too ('aborted' is its error): the handler
          // is killed by then, or answers a connection that is gone.
          req.on('end', resolve);
          req.on('error', resolve);
          req.on('close', resolve);
        }));
        counts.uploads++;
        res.end(`got ${size}`);
      } else if (req.url === '/quick') {
        res.end('ok');
      } else {
        sleep(30_000);
        res.end('late');
      }
      counts.handled++;
    } catch (error) {
      if (error?.name === 'GreenletExit') counts.interruptedHandlers++;
      throw error;
    }
  });
  server.listen(0, '127.0.0.1');
  while (server.address() === null) sleep(1);
  const port = server.address().port;
  const base = `http://127.0.0.1:${port}`;
  // A StreamServer that never answers: net reads park on it.
  const silent = new gnet.StreamServer(['127.0.0.1', 0], (socket) => {
    socket.read();
  });
  silent.start();

  sleep(200);
  const baseline = { threads: threads() - fiberStats().idle, rss: rssMb(), fds: fds() };
  const baselineKinds = fdKinds();
  const started = Date.now();
  const running = () => Date.now() - started < SECONDS * 1000;
  let outstanding = 0;

  // Impatient clients: a request, then gone after 2 ms.
  const impatient = spawn(() => {
    while (running()) {
      for (let i = 0; i < 20 && outstanding < 400; i++) {
        outstanding++;
        const socket = net.connect(port, '127.0.0.1', () => {
          clearTimeout(giveUp);
          socket.write('GET /slow HTTP/1.1\r\nhost: soak\r\n\r\n');
          setTimeout(() => socket.destroy(), 2);
        });
        // Impatient from the start: a connection the server's backlog has not taken in 200 ms
        // (SYNs dropped under the flood) is abandoned too.
        const giveUp = setTimeout(() => socket.destroy(), 200);
        socket.on('data', (chunk) => {
          if (chunk.toString().startsWith('HTTP/1.1 503')) counts.refused503++;
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          outstanding--;
          counts.impatient++;
        });
      }
      sleep(10);
      sample();
    }
  });

  // Slow uploaders: a body of 100 kB announced, 64 bytes every 50 ms, abandoned after 0.3-2 s.
  const uploaders = Array.from({ length: 20 }, () =>
    spawn(() => {
      while (running()) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.write('POST /upload HTTP/1.1\r\nhost: soak\r\ncontent-length: 100000\r\n\r\n');
        const until = Date.now() + 300 + Math.random() * 1700;
        while (Date.now() < until && running() && !socket.destroyed) {
          socket.write(Buffer.alloc(64, 120));
          sleep(50);
        }
        socket.destroy();
      }
    }),
  );

  // Kill storms: greenlets parked in each kind of blocking call, killed after 0-30 ms.
  const queue = new Queue();
  const kinds = {
    http: () => client.get(`${base}/slow`),
    httpTimeout: () => {
      try {
        client.get(`${base}/slow`, { timeout: 5 + Math.random() * 20 });
      } catch (error) {
        if (error?.name !== 'HttpTimeoutError') throw error;
        counts.clientTimeouts++;
      }
    },
    httpStream: () => {
      const response = client.get(`${base}/quick`, { stream: true });
      try {
        response.readAll();
      } finally {
        response.close();
      }
    },
    netRead: () => {
      const socket = gnet.connect(silent.address.port, '127.0.0.1');
      try {
        socket.read();
      } finally {
        socket.close();
      }
    },
    fs: () => fs.readFileSync(bigFile),
    fsOpen: () => fs.closeSync(fs.openSync(bigFile, 'r')),
    childProcess: () => childProcess.spawnSync('sleep', ['0.2']),
    sleep: () => sleep(1000),
    queue: () => queue.get(),
  };
  const names = Object.keys(kinds);
  const storm = spawn(() => {
    while (running()) {
      const victims = Array.from({ length: 10 }, (_, i) => {
        const kind = names[(i + Math.floor(Math.random() * names.length)) % names.length];
        const greenlet = spawn(() => {
          try {
            kinds[kind]();
          } catch (error) {
            if (error?.name === 'GreenletExit') throw error;
            unexpected(kind, error);
          }
        });
        greenlet.name = `soak ${kind}`;
        return greenlet;
      });
      sleep(Math.random() * 30);
      killAll(victims);
      counts.killed += victims.length;
      sample();
      peak.handlers = Math.max(peak.handlers, monkey.serverStats(server).running);
    }
  });

  joinAll([impatient, storm, ...uploaders], { raiseError: true });
  // Drain: the server stops, pools close, what is left is killed.
  server.close();
  server.closeAllConnections();
  silent.stop(100);
  client.closeAll();
  for (let i = 0; i < 300 && (outstanding > 0 || monkey.serverStats(server).running > 0); i++) sleep(10);
  sleep(1500);
  const final = { threads: threads(), rss: rssMb(), fds: fds() };
  // The native fiber-thread pool keeps finished fibers' threads for reuse (it never shrinks):
  // those are parked, holding no fiber; the figure that must come back is the threads in use.
  const pooled = fiberStats().idle;
  if (process.env.SOAK_DEBUG) {
    const inodes = new Set(fs.readdirSync('/proc/self/fd').map((fd) => {
      try { return /socket:\[(\d+)\]/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1]; } catch { return undefined; }
    }).filter(Boolean));
    const states = new Map();
    for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      const local = parseInt(f[1].split(':')[1], 16), remote = parseInt(f[2].split(':')[1], 16);
      const key = `${local === port ? 'http-server' : local === silent.address.port ? 'silent-server' : 'client'} -> ${remote === port ? 'http-server' : remote === silent.address.port ? 'silent-server' : 'client'} state ${f[3]}`;
      states.set(key, (states.get(key) ?? 0) + 1);
    }
    console.log('open sockets:', [...states]);
  }
  const extraFds = [...fdKinds()].map(([kind, n]) => [kind, n - (baselineKinds.get(kind) ?? 0)]).filter(([, n]) => n > 0);
  const stats = monkey.serverStats(server);
  fs.rmSync(scratch, { recursive: true, force: true });

  const row = (name, b, p, f) => `${name.padEnd(8)} ${String(b).padStart(8)} ${String(p).padStart(8)} ${String(f).padStart(8)}`;
  console.log(`soak: ${SECONDS} s on Node ${process.version}, maxHandlers ${monkey.serverDefaults().maxHandlers}`);
  console.log(`requests ${counts.requests} (handled ${counts.handled}, handlers interrupted ${counts.interruptedHandlers}, 503 ${counts.refused503 + stats.refused}, uploads read ${counts.uploads})`);
  console.log(`impatient clients ${counts.impatient}, client timeouts ${counts.clientTimeouts}, greenlets killed in storms ${counts.killed}`);
  console.log(`peak handlers running ${Math.max(peak.handlers, stats.peak)}; fibers started now ${fiberStats().started}`);
  console.log(`errors ${counts.errors}${[...errors].map(([key, n]) => `\n  ${n} x ${key}`).join('')}`);
  console.log(`${''.padEnd(8)} ${'baseline'.padStart(8)} ${'peak'.padStart(8)} ${'final'.padStart(8)}`);
  console.log(row('threads', baseline.threads, peak.threads, final.threads) + `   (${pooled} of them pooled idle fiber threads: ${final.threads - pooled} in use)`);
  console.log(row('RSS MB', baseline.rss, peak.rss, final.rss));
  console.log(row('fds', baseline.fds, peak.fds, final.fds) + (extraFds.length > 0 ? `   (over baseline: ${extraFds.map(([kind, n]) => `${n} ${kind}`).join(', ')})` : ''));
  const ok = final.threads - pooled <= baseline.threads + 16 && final.fds <= baseline.fds + 4 && counts.errors === 0;
  console.log(ok ? 'soak: ok (final threads and fds back near baseline, no unexpected error)' : 'soak: FAILED');
  if (!ok) process.exitCode = 1;
});
