// Cooperative synchronisation and pools against async/await, in the same run: a queue ping-pong
// between two greenlets (messages/s) beside two async functions over a promise queue, and a
// Pool(100) map of 100,000 trivial calls beside 100 async workers. Prints one JSON line per
// measurement: {"group", "name", "value", "unit", "runs"}; the value is the median of the runs.
import { main, Pool, Queue, spawn } from '../dist/entries/index.mjs';

const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5));
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const CALLS = 100_000;
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const now = () => performance.now();
const emit = (group, name, unit, runs) => console.log(JSON.stringify({ group, name, value: +median(runs).toFixed(3), unit, runs: runs.map((v) => +v.toFixed(3)) }));

/** Two greenlets bouncing a counter over two queues; each put/get hand-over is one message. */
function greenfiberPingPong(messages) {
  return main(() => {
    const ping = new Queue();
    const pong = new Queue();
    const rounds = messages / 2;
    const echo = spawn(() => {
      for (let i = 0; i < rounds; i++) pong.put(ping.get() + 1);
    });
    const start = now();
    let n = 0;
    for (let i = 0; i < rounds; i++) {
      ping.put(n);
      n = pong.get();
    }
    const elapsed = now() - start;
    echo.join();
    if (n !== rounds) throw new Error(`ping-pong lost messages: ${n} of ${rounds}`);
    return messages / (elapsed / 1000);
  });
}

/** The idiomatic async queue: a getter awaits a promise that put() resolves. */
class AsyncQueue {
  #items = [];
  #getters = [];
  put(item) {
    const getter = this.#getters.shift();
    if (getter) getter(item);
    else this.#items.push(item);
  }
  get() {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    return new Promise((resolve) => this.#getters.push(resolve));
  }
}

async function asyncPingPong(messages) {
  const ping = new AsyncQueue();
  const pong = new AsyncQueue();
  const rounds = messages / 2;
  const echo = (async () => {
    for (let i = 0; i < rounds; i++) pong.put((await ping.get()) + 1);
  })();
  const start = now();
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    ping.put(n);
    n = await pong.get();
  }
  const elapsed = now() - start;
  await echo;
  if (n !== rounds) throw new Error(`async ping-pong lost messages: ${n} of ${rounds}`);
  return messages / (elapsed / 1000);
}

const items = Array.from({ length: CALLS }, (_, i) => i);

function greenfiberPoolMap() {
  return main(() => {
    const pool = new Pool(100);
    const start = now();
    const results = pool.map((x) => x * 2, items);
    const elapsed = now() - start;
    if (results.length !== CALLS || results[CALLS - 1] !== (CALLS - 1) * 2) throw new Error('Pool.map returned wrong results');
    return elapsed;
  });
}

/** The idiomatic async equivalent: 100 async workers pulling from a shared index (p-limit style). */
async function asyncPoolMap() {
  const fn = async (x) => x * 2;
  const results = new Array(CALLS);
  let next = 0;
  const start = now();
  const worker = async () => {
    while (next < CALLS) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  const elapsed = now() - start;
  if (results[CALLS - 1] !== (CALLS - 1) * 2) throw new Error('async map returned wrong results');
  return elapsed;
}

async function measure(fn) {
  await fn(); // warm-up
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    globalThis.gc?.();
    runs.push(await fn());
  }
  return runs;
}

emit('queue ping-pong', 'greenfiber', 'msg/s', await measure(() => greenfiberPingPong(MESSAGES)));
emit('queue ping-pong', 'async/await', 'msg/s', await measure(() => asyncPingPong(MESSAGES)));
emit('Pool(100) map of 100,000 trivial calls', 'greenfiber', 'ms', await measure(greenfiberPoolMap));
emit('Pool(100) map of 100,000 trivial calls', 'async/await', 'ms', await measure(asyncPoolMap));
