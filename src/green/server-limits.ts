// What bounds a server that runs each connection or request in a greenlet of its own (patched
// http and net servers, StreamServer): a cap on handler greenlets running at once, a bounded
// line of those waiting for a slot, and the interruption of a handler whose client went away.
import fs = require('node:fs');
import { GreenletExit } from '../errors';
import { Greenlet } from '../greenlet';
import { kLink } from '../waitable';

/** How many handler greenlets a server runs at once, and what happens past that. */
export interface ServerLimits {
  /**
   * Handler greenlets running at once per server (each is a fiber: an OS thread and its stack).
   * Default: DEFAULT_MAX_HANDLERS (1000, less if the kernel's thread or mapping limits are low).
   */
  maxHandlers?: number;
  /**
   * Connections or requests that wait, holding no greenlet, for a handler slot. Past it an http
   * request is answered 503 (with `retry-after: 1`, and the connection closed) and a net
   * connection is closed at once. A waiting one costs its socket (an fd), no thread. Default:
   * ten times `maxHandlers` (so 10,000), and in any case no more than the fds the process may open.
   */
  maxWaiting?: number;
  /**
   * Whether a handler whose client has gone away (the connection closed before the response was
   * finished) is killed with a GreenletExit ('client went away'), so that its `finally` blocks
   * give back what it holds. Default true.
   */
  interruptOnClientGone?: boolean;
}

function readNumber(file: string): number {
  try {
    const value = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) && value > 0 ? value : Infinity;
  } catch {
    return Infinity;
  }
}

/**
 * The default of `maxHandlers`: 1000, or a sixteenth of what the kernel lets the process hold if
 * that is less (each fiber thread takes two memory mappings of `vm.max_map_count` and a task of
 * `kernel.threads-max`), never below 16.
 */
export const DEFAULT_MAX_HANDLERS = Math.max(16, Math.min(1000, Math.floor(Math.min(readNumber('/proc/sys/vm/max_map_count') / 2, readNumber('/proc/sys/kernel/threads-max')) / 16)));

// Defaults for servers not given limits of their own; setServerDefaults() changes them.
const defaults: ServerLimits & { interruptOnClientGone: boolean } = { interruptOnClientGone: true };

function validLimits(limits: ServerLimits, name: string): ServerLimits {
  if (typeof limits !== 'object' || limits === null) throw new TypeError(`Expected an object for ${name} but received ${limits === null ? 'null' : typeof limits}`);
  for (const key of ['maxHandlers', 'maxWaiting'] as const) {
    const value = limits[key];
    const min = key === 'maxHandlers' ? 1 : 0;
    if (value !== undefined && (typeof value !== 'number' || !(value >= min) || (Number.isFinite(value) && !Number.isInteger(value)))) {
      throw new TypeError(`Expected an integer >= ${min} (or Infinity) for ${name}.${key} but received ${String(value)}`);
    }
  }
  if (limits.interruptOnClientGone !== undefined && typeof limits.interruptOnClientGone !== 'boolean') {
    throw new TypeError(`Expected a boolean for ${name}.interruptOnClientGone but received ${typeof limits.interruptOnClientGone}`);
  }
  return limits;
}

/** Changes the limits of servers that were not given their own (see ServerLimits). */
export function setServerDefaults(limits: ServerLimits): void {
  validLimits(limits, 'limits');
  if (limits.maxHandlers !== undefined) defaults.maxHandlers = limits.maxHandlers;
  if (limits.maxWaiting !== undefined) defaults.maxWaiting = limits.maxWaiting;
  if (limits.maxHandlers !== undefined && limits.maxWaiting === undefined) delete defaults.maxWaiting;
  if (limits.interruptOnClientGone !== undefined) defaults.interruptOnClientGone = limits.interruptOnClientGone;
}

/** A copy of the limits servers get by default. */
export function serverDefaults(): Required<ServerLimits> {
  const maxHandlers = defaults.maxHandlers ?? DEFAULT_MAX_HANDLERS;
  return { maxHandlers, maxWaiting: defaults.maxWaiting ?? maxHandlers * 10, interruptOnClientGone: defaults.interruptOnClientGone };
}

/** One job a Gate runs or queues: `start` makes its greenlet, `gone` says the client has left. */
export interface Admission {
  start(): Greenlet<unknown>;
  gone(): boolean;
  /** Called when the job is turned away (the waiting line is full). */
  refuse(): void;
  /** Registers `callback` for the client going away; returns how to unregister it. */
  onGone(callback: () => void): () => void;
}

/**
 * The handler slots of one server: runs an admitted job's greenlet while fewer than
 * `maxHandlers` run, queues it (no greenlet) while fewer than `maxWaiting` wait, refuses it
 * past that. Waiting jobs whose client left are dropped.
 */
export class Gate {
  #own: ServerLimits;
  /** Greenlets of handlers running now. */
  readonly running = new Set<Greenlet<unknown>>();
  /** Jobs waiting for a slot, oldest first, with how to stop watching their client. */
  #waiting: Array<{ job: Admission; off: () => void }> = [];
  /** The most handlers seen running at once. */
  peak = 0;
  /** Jobs refused because the waiting line was full. */
  refused = 0;

  constructor(own: ServerLimits = {}) {
    this.#own = validLimits(own, 'limits');
  }

  /** Replaces this server's own limits; running handlers are left alone. */
  setLimits(own: ServerLimits): void {
    this.#own = { ...validLimits(own, 'limits') };
    this.#next();
  }

  get limits(): Required<ServerLimits> {
    const fallback = serverDefaults();
    const maxHandlers = this.#own.maxHandlers ?? fallback.maxHandlers;
    return {
      maxHandlers,
      maxWaiting: this.#own.maxWaiting ?? (this.#own.maxHandlers === undefined ? fallback.maxWaiting : maxHandlers * 10),
      interruptOnClientGone: this.#own.interruptOnClientGone ?? fallback.interruptOnClientGone,
    };
  }

  /** How many jobs wait for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs, queues or refuses `job`. Never blocks. */
  admit(job: Admission): void {
    const limits = this.limits;
    if (this.running.size < limits.maxHandlers) {
      this.#run(job);
    } else if (this.#waiting.length < limits.maxWaiting) {
      const entry = {
        job,
        off: job.onGone(() => {
          entry.off();
          const index = this.#waiting.indexOf(entry);
          if (index >= 0) this.#waiting.splice(index, 1);
        }),
      };
      this.#waiting.push(entry);
    } else {
      this.refused++;
      job.refuse();
    }
  }

  /** Drops every waiting job, refusing it. */
  refuseWaiting(): void {
    for (const { job, off } of this.#waiting.splice(0)) {
      off();
      job.refuse();
    }
  }

  #run(job: Admission): void {
    const greenlet = job.start();
    this.running.add(greenlet);
    this.peak = Math.max(this.peak, this.running.size);
    let off: (() => void) | undefined;
    if (this.limits.interruptOnClientGone) {
      off = job.onGone(() => {
        // A non-blocking kill: the handler unwinds at its suspension point (or before it starts).
        if (!greenlet.dead) greenlet.kill(new GreenletExit('client went away'), { block: false });
      });
    }
    // A raw link: runs on the hub as the handler ends, without a greenlet of its own.
    greenlet[kLink](() => {
      off?.();
      this.running.delete(greenlet);
      this.#next();
    });
    greenlet.start();
  }

  #next(): void {
    while (this.running.size < this.limits.maxHandlers) {
      const entry = this.#waiting.shift();
      if (entry === undefined) return;
      entry.off();
      const { job } = entry;
      if (!job.gone()) {
        this.#run(job);
      }
    }
  }
}
