// The blocking monitor (gevent's monitor thread): reports a greenlet that runs longer than
// hub.maxBlockingTime without yielding. Off by default; when off it costs one boolean test a switch.
//
// JavaScript cannot interrupt a running fiber, so the report comes in two parts. A watchdog
// worker_thread (unref'd) reads a shared clock of switches and, when one greenlet has held the
// thread too long, writes a line to stderr at once (fs.writeSync: the main thread is busy). When
// the greenlet finally yields, the hub reports it again with its name, how long it ran, the stack
// where it yielded and where it was spawned from.
import { Worker } from 'node:worker_threads';
import { framesOf } from './stack';

/** @internal */
export const monitorState = { on: false, maxBlockingTime: 0 };

// Shared with the watchdog: [0] switch sequence number, [1] id of the running greenlet (0: the
// hub), [2..3] switch-in time as a float64 of ms since timeOrigin, via the Float64Array view,
// [4] how many reports the watchdog has written (for tests that wait for one).
let shared: Int32Array | undefined;
let sharedTime: Float64Array | undefined;
let watchdog: Worker | undefined;
let switchedInAt = 0;
let sequence = 0;

/** @internal Set hub.maxBlockingTime: starts or stops the watchdog. */
export function setMaxBlockingTime(ms: number): void {
  monitorState.maxBlockingTime = ms;
  monitorState.on = ms > 0;
  if (ms > 0) startWatchdog(ms);
  else stopWatchdog();
}

let nextId = 1_000_000_000; // raw fibers; greenlets use their own id
const ids = new WeakMap<object, number>();

function idOf(fiber: object): number {
  const own = (fiber as { id?: unknown }).id;
  if (typeof own === 'number') return own;
  let id = ids.get(fiber);
  if (id === undefined) {
    id = nextId++;
    ids.set(fiber, id);
  }
  return id;
}

/** @internal The hub is about to resume `fiber`. */
export function monitorSwitchIn(fiber: { name: string }): void {
  switchedInAt = performance.now();
  if (shared !== undefined) {
    sequence = (sequence + 1) | 0;
    sharedTime![1] = switchedInAt;
    Atomics.store(shared, 1, idOf(fiber));
    Atomics.store(shared, 0, sequence);
  }
}

/** @internal `fiber` is about to park on the hub: report it with the stack where it yields. */
export function monitorSwitchOut(fiber: { name: string }): void {
  if (switchedInAt === 0) return;
  const ran = performance.now() - switchedInAt;
  switchedInAt = 0;
  if (ran > monitorState.maxBlockingTime) {
    const site: { stack?: string } = {};
    Error.captureStackTrace(site, monitorSwitchOut);
    report(fiber, ran, `it yielded at:\n${framesOf(site)}`);
  }
}

/** @internal The hub runs again: the fiber it resumed parked or finished. */
export function monitorBackOnHub(fiber: { name: string }): void {
  if (shared !== undefined) {
    sequence = (sequence + 1) | 0;
    Atomics.store(shared, 1, 0);
    Atomics.store(shared, 0, sequence);
  }
  if (switchedInAt === 0) return; // it parked: monitorSwitchOut() saw it
  const ran = performance.now() - switchedInAt;
  switchedInAt = 0;
  if (ran > monitorState.maxBlockingTime) report(fiber, ran, 'it ran until it finished');
}

function report(fiber: { name: string }, ran: number, where: string): void {
  const describe = (fiber as { [key: symbol]: unknown })[Symbol.for('greenfiber.describe')];
  const header = typeof describe === 'function' ? String(describe.call(fiber)) : `fiber ${JSON.stringify(fiber.name)}`;
  const [title, ...rest] = header.split('\n');
  process.stderr.write(
    `greenfiber: ${title} ran ${ran.toFixed(0)} ms without yielding (hub.maxBlockingTime is ${monitorState.maxBlockingTime} ms); ${where}\n` +
      (rest.length > 0 ? `${rest.join('\n')}\n` : ''),
  );
}

const watchdogSource = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const shared = new Int32Array(workerData.buffer);
const times = new Float64Array(workerData.buffer);
const limit = workerData.ms;
const origin = workerData.origin;
let seen = -1;
let reported = -1;
setInterval(() => {
  const seq = Atomics.load(shared, 0);
  const id = Atomics.load(shared, 1);
  if (id === 0 || seq !== seen) { seen = seq; return; }
  if (reported === seq) return;
  const ran = performance.timeOrigin + performance.now() - origin - times[1];
  if (ran > limit) {
    reported = seq;
    try { writeSync(2, 'greenfiber: greenlet #' + id + ' has been running ' + ran.toFixed(0) + ' ms without yielding (hub.maxBlockingTime is ' + limit + ' ms); its stack is reported when it yields\\n'); } catch {}
    Atomics.add(shared, 4, 1);
  }
}, Math.max(1, Math.floor(limit / 2)));
`;

function startWatchdog(ms: number): void {
  stopWatchdog();
  const buffer = new SharedArrayBuffer(24);
  shared = new Int32Array(buffer);
  sharedTime = new Float64Array(buffer);
  watchdog = new Worker(watchdogSource, { eval: true, workerData: { buffer, ms, origin: performance.timeOrigin }, stdout: false, stderr: false });
  watchdog.unref();
}

/** @internal How many "has been running" reports the watchdog has written since it started. */
export function monitorReports(): number {
  return shared === undefined ? 0 : Atomics.load(shared, 4);
}

function stopWatchdog(): void {
  if (watchdog !== undefined) {
    void watchdog.terminate();
    watchdog = undefined;
  }
  shared = undefined;
  sharedTime = undefined;
}
