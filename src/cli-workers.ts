// `greenfiber --workers N|auto [--grace ms] script.js`: the primary process of node:cluster. It
// runs no script itself: it forks N workers (each runs the script as its main greenlet, with its
// own hub; servers they open share the port), replaces a worker that crashes, with backoff, and
// on SIGTERM/SIGINT drains them (gunicorn's `-k gevent -w N`).
import cluster, { type Worker } from 'node:cluster';
import * as net from 'node:net';

/** Restart delays double from this, per worker slot, up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A worker that stayed up this long ends its slot's run of crashes. */
const STABLE_MS = 30_000;
/** A slot whose worker crashed this many times in a row, each within STABLE_MS of its start: give up. */
const MAX_CRASHES = 5;

export interface WorkersOptions {
  count: number;
  /** How long workers may take to finish requests in flight after SIGTERM/SIGINT, ms. */
  graceMs: number;
  /** Node options the workers need on top of ours (e.g. to strip TypeScript types). */
  execArgv?: string[];
}

interface Slot {
  id: number;
  worker: Worker | null;
  startedAt: number;
  crashes: number;
  timer: NodeJS.Timeout | null;
}

const say = (message: string) => process.stderr.write(`greenfiber: ${message}\n`);

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/**
 * Runs the primary: returns at once; the process lives on its workers and exits 0 once they have
 * all exited after a drain (or on their own with code 0), 1 when a slot crash-loops.
 */
export function runWorkers(options: WorkersOptions): void {
  if (options.execArgv !== undefined) cluster.setupPrimary({ execArgv: [...process.execArgv, ...options.execArgv] });
  const slots: Slot[] = Array.from({ length: options.count }, (_, i) => ({ id: i + 1, worker: null, startedAt: 0, crashes: 0, timer: null }));
  let draining = false;
  let exitCode = 0;

  const start = (slot: Slot) => {
    slot.timer = null;
    slot.startedAt = performance.now();
    const worker = cluster.fork({ GREENFIBER_WORKER: String(slot.id) });
    slot.worker = worker;
    worker.on('error', () => {}); // a channel closed under a send: its 'exit' follows
    worker.on('exit', (code, signal) => {
      slot.worker = null;
      if (draining) return finishIfDone();
      if (code === 0 && signal === null) return finishIfDone(); // its script ended: nothing to replace
      const upFor = performance.now() - slot.startedAt;
      slot.crashes = upFor >= STABLE_MS ? 1 : slot.crashes + 1;
      if (slot.crashes >= MAX_CRASHES) {
        say(`worker ${slot.id} (pid ${worker.process.pid}) exited with ${describeExit(code, signal)}, the ${MAX_CRASHES}th time in a row within ${STABLE_MS / 1000} s of starting; giving up`);
        exitCode = 1;
        return drain();
      }
      const delay = Math.min(RESTART_MIN_MS * 2 ** (slot.crashes - 1), RESTART_MAX_MS);
      say(`worker ${slot.id} (pid ${worker.process.pid}) exited with ${describeExit(code, signal)}; starting another in ${delay} ms`);
      slot.timer = setTimeout(() => start(slot), delay);
    });
  };

  const finishIfDone = () => {
    if (slots.every((slot) => slot.worker === null && slot.timer === null)) process.exit(exitCode);
  };

  // Each worker closes its servers (no new connections; requests in flight finish, then their
  // connections close) and exits once nothing is left; whoever is still there after the grace
  // period is killed.
  const drain = () => {
    draining = true;
    for (const slot of slots) {
      if (slot.timer !== null) clearTimeout(slot.timer);
      slot.timer = null;
      const worker = slot.worker;
      if (worker === null) continue;
      if (worker.isConnected()) worker.disconnect();
      const timer = setTimeout(() => {
        if (slot.worker !== worker) return;
        say(`worker ${slot.id} (pid ${worker.process.pid}) did not finish within --grace ${options.graceMs} ms; killing it`);
        worker.process.kill('SIGKILL');
      }, options.graceMs);
      worker.once('exit', () => clearTimeout(timer));
    }
    finishIfDone();
  };

  let signals = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (++signals === 1) return drain();
      say(`${signal} again: killing the workers`);
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      exitCode = 1;
    });
  }
  for (const slot of slots) start(slot);
}

/**
 * In a worker: a Ctrl-C reaches every process of the terminal's group, but the primary drives
 * the drain (it disconnects us), so the worker does not die of SIGINT/SIGTERM itself unless the
 * script handles them. Returns what to call when the script's main greenlet has returned.
 */
export function setUpWorker(): () => void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1 && !cluster.worker?.isConnected()) process.exit(0);
    });
  }
  // The channel to the primary keeps a worker alive (its servers' connections come through the
  // primary, so they hold no handle of their own here). A script that opened no server ends like
  // any script, when nothing is left: the channel is unreferenced then, and again referenced
  // whenever a server starts listening.
  const channel = process.channel as { ref?(): void; unref?(): void } | undefined;
  let servers = 0;
  let scriptDone = false;
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    if (servers++ === 0) channel?.ref?.();
    this.once('close', () => {
      if (--servers === 0 && scriptDone) channel?.unref?.();
    });
    return listen.apply(this, args as Parameters<typeof listen>);
  } as typeof listen;
  return () => {
    scriptDone = true;
    if (servers === 0) channel?.unref?.();
  };
}
