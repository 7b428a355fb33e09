// What patchNet and patchHttp share: event listeners of a server that run each call in a fresh
// greenlet, admitted through the server's Gate (a cap on running handlers, a bounded waiting line,
// handlers of departed clients interrupted), and the patching of on/addListener/prependListener.
import { Greenlet } from '../greenlet';
import { Gate, type Admission, type ServerLimits } from '../green/server-limits';
import type { Patcher } from './state';

/** Runs one listener call in its greenlet; throws what the listener throws, after cleaning up. */
export type Runner = (listener: Function, emitter: unknown, args: unknown[]) => unknown;

/** What a listener call's client looks like to the Gate: see Admission. */
export interface Client {
  name: string;
  gone(): boolean;
  onGone(callback: () => void): () => void;
  refuse(): void;
}

// Each server's Gate, made at its first connection or by limitServer().
const gates = new WeakMap<object, Gate>();

function gateOf(server: object): Gate {
  let gate = gates.get(server);
  if (gate === undefined) {
    gate = new Gate();
    gates.set(server, gate);
  }
  return gate;
}

/**
 * Gives one patched http(s) or net server limits of its own (see ServerLimits; unset fields
 * follow setServerDefaults()). Never blocks; running handlers are left alone.
 */
export function limitServer(server: object, limits: ServerLimits): void {
  if (typeof server !== 'object' || server === null) throw new TypeError(`Expected a server for server but received ${server === null ? 'null' : typeof server}`);
  gateOf(server).setLimits(limits);
}

/** Handlers of one server: running now, waiting, the most seen running at once, and refused so far. */
export interface ServerStats {
  running: number;
  waiting: number;
  peak: number;
  refused: number;
}

/** How many handlers `server` runs and queues (all zero for a server that saw no connection). Never blocks. */
export function serverStats(server: object): ServerStats {
  const gate = gates.get(server);
  return gate === undefined ? { running: 0, waiting: 0, peak: 0, refused: 0 } : { running: gate.running.size, waiting: gate.waiting, peak: gate.peak, refused: gate.refused };
}

/**
 * Wraps `listener` so that each call is admitted through the emitter's Gate and runs in a
 * greenlet running `run(listener, this, args)`, described by `client(args)`. `wrapped.listener`
 * is the original, so `removeListener(original)` finds it (as for once()).
 */
export function greenListener(listener: Function, run: Runner, client: (args: unknown[]) => Client): Function {
  const wrapped = function (this: object, ...args: unknown[]): void {
    const who = client(args);
    const job: Admission = {
      start: () => {
        const greenlet = new Greenlet(run, listener, this, args);
        greenlet.name = who.name;
        return greenlet;
      },
      gone: who.gone,
      onGone: who.onGone,
      refuse: who.refuse,
    };
    gateOf(this).admit(job);
  };
  Object.defineProperty(wrapped, 'name', { value: listener.name, configurable: true });
  (wrapped as unknown as { listener: Function }).listener = listener;
  return wrapped;
}

/**
 * Patches `on`, `addListener` and `prependListener` of `proto` so that listeners of `event`
 * added to emitters for which `applies(emitter)` holds are wrapped with `wrap`.
 */
export function patchListenerMethods(patch: Patcher, proto: object, event: string, applies: (emitter: unknown) => boolean, wrap: (listener: Function) => Function): void {
  for (const method of ['on', 'addListener', 'prependListener'] as const) {
    const original = (proto as Record<string, Function>)[method];
    patch(proto, method, {
      [method](this: unknown, type: unknown, listener: unknown): unknown {
        if (type === event && typeof listener === 'function' && applies(this)) return Reflect.apply(original, this, [type, wrap(listener)]);
        return Reflect.apply(original, this, arguments);
      },
    }[method]);
  }
}
