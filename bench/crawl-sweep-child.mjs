// One measurement of the crawl sweep (see crawl.bench.mjs), in a process of its own so that each
// greenfiber backend (GREENFIBER_BACKEND, read at load) gets its own row:
//   node crawl-sweep-child.mjs <green|async> <base url> <concurrency> <pages>
// fetches <pages> 10 KB pages with <concurrency> workers, after a warm-up, and prints
// {"pagesPerSecond", "backend", "switches", "coldWakes", "cpuUsPerPage"} (CPU time of this process
// per page, warm-up included: a figure that load from other processes disturbs less than wall time).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [style, base, concurrencyArg, pagesArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const pages = Number(pagesArg);

async function asyncCrawl(count) {
  const undici = require('undici');
  const dispatcher = new undici.Agent();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < count) {
      const url = `${base}/page/${next++}`;
      const response = await undici.request(url, { dispatcher });
      const length = (await response.body.arrayBuffer()).byteLength;
      bytes += length;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  if (bytes !== count * 10_240) throw new Error(`read ${bytes} bytes`);
  return count / seconds;
}

function greenCrawl(count) {
  const { spawn, joinAll } = require('../dist/entries/index.js');
  const { get, closeAll } = require('../dist/entries/http.js');
  let next = 0;
  let bytes = 0;
  const worker = () => {
    while (next < count) {
      const length = get(`${base}/page/${next++}`).body.length; // not `bytes +=`: that reads bytes before get() blocks
      bytes += length;
    }
  };
  const started = performance.now();
  joinAll(Array.from({ length: concurrency }, () => spawn(worker)), { raiseError: true });
  const seconds = (performance.now() - started) / 1000;
  closeAll();
  if (bytes !== count * 10_240) throw new Error(`read ${bytes} bytes`);
  return count / seconds;
}

let result;
const cpuBefore = process.cpuUsage();
if (style === 'async') {
  await asyncCrawl(Math.min(pages, 1000)); // warm up the JIT and the connections' code paths
  result = { pagesPerSecond: await asyncCrawl(pages) };
} else {
  const { main, fiberStats } = require('../dist/entries/index.js');
  result = await main(() => {
    greenCrawl(Math.min(pages, 1000));
    const before = fiberStats();
    const pagesPerSecond = greenCrawl(pages);
    const after = fiberStats();
    return { pagesPerSecond, backend: after.backend, switches: after.switches - before.switches, coldWakes: after.coldWakes - before.coldWakes };
  });
}
const cpu = process.cpuUsage(cpuBefore);
result.cpuUsPerPage = (cpu.user + cpu.system) / (pages + Math.min(pages, 1000)); // warm-up included
console.log(JSON.stringify(result));
process.exit(0);
