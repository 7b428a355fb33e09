// What patchNet and patchHttp share: event listeners of a server that run each call in a fresh
// greenlet, and the patching of on/addListener/prependListener that installs them.
import { Greenlet } from '../greenlet';
import type { Patcher } from './state';

/** Runs one listener call in its greenlet; throws what the listener throws, after cleaning up. */
export type Runner = (listener: Function, emitter: unknown, args: unknown[]) => unknown;

/**
 * Wraps `listener` so that each call spawns a greenlet running `run(listener, this, args)`,
 * named by `name(args)`. `wrapped.listener` is the original, so `removeListener(original)` finds
 * it (as for once()).
 */
export function greenListener(listener: Function, run: Runner, name: (args: unknown[]) => string): Function {
  const wrapped = function (this: unknown, ...args: unknown[]): void {
    const greenlet = new Greenlet(run, listener, this, args);
    greenlet.name = name(args);
    greenlet.start();
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
