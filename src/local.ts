// local(): fiber-local storage (gevent.local). Each fiber sees its own properties on the same
// object; the main fiber (the hub and top-level code) is a fiber like the others.
import { Fiber } from './fiber';
import { checkOptionalFunction } from './validate';

// For each fiber that touched a local(), the views maps holding its properties, so they can be
// dropped when the fiber dies rather than when the fiber object is collected.
const touched = new WeakMap<Fiber, Set<WeakMap<Fiber, object>>>();

/**
 * @internal Drops every local() property of `fiber`: called when a greenlet finishes (after its
 * error, if any, was reported), so a finished greenlet kept in an array keeps no locals alive.
 */
export function releaseLocals(fiber: Fiber): void {
  const maps = touched.get(fiber);
  if (maps === undefined) return;
  touched.delete(fiber);
  for (const views of maps) views.delete(fiber);
}

/**
 * Returns an object whose properties are local to the fiber that reads or writes them
 * (gevent.local.local). `init`, if given, builds the initial properties of each fiber's view the
 * first time that fiber touches the object. A greenlet's properties are dropped when it finishes
 * (dies); a raw Fiber's (and the main fiber's) go away with the Fiber object, being held weakly.
 * Never blocks.
 *
 * ```ts
 * const ctx = local<{ user?: string }>();
 * spawn(() => { ctx.user = 'ann'; sleep(10); ctx.user; }); // 'ann' in this greenlet only
 * ```
 */
export function local<T extends object = Record<string | symbol, any>>(init?: () => T): T {
  checkOptionalFunction(init, 'init');
  const views = new WeakMap<Fiber, object>();
  const view = (): object => {
    const fiber = Fiber.current;
    let found = views.get(fiber);
    if (found === undefined) {
      found = Object.create(null) as object;
      views.set(fiber, found);
      if (fiber !== Fiber.main) {
        let maps = touched.get(fiber);
        if (maps === undefined) touched.set(fiber, (maps = new Set()));
        maps.add(views);
      }
      if (init !== undefined) Object.assign(found, init());
    }
    return found;
  };
  return new Proxy(Object.create(null) as T, {
    get: (_target, key) => Reflect.get(view(), key),
    set: (_target, key, value) => Reflect.set(view(), key, value),
    has: (_target, key) => Reflect.has(view(), key),
    deleteProperty: (_target, key) => Reflect.deleteProperty(view(), key),
    ownKeys: () => Reflect.ownKeys(view()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(view(), key);
      // The proxy target has none of these properties: report them configurable (invariant).
      if (descriptor !== undefined) descriptor.configurable = true;
      return descriptor;
    },
    defineProperty: (_target, key, descriptor) => Reflect.defineProperty(view(), key, descriptor),
  });
}
