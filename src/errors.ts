// The whole error family of greenfiber. Failures derive from GreenfiberError and carry a stable
// `code`; control-flow exceptions (FiberExit, GreenletExit) deliberately do not, so that
// `catch (e) { if (e instanceof GreenfiberError) … }` never swallows a kill.

/**
 * Brands `cls` so that `instanceof cls` also recognises instances made by another copy of
 * greenfiber loaded in the same process (as undici does for its errors).
 */
function brand(cls: abstract new (...args: never[]) => unknown, name: string): void {
  const symbol = Symbol.for(`greenfiber.${name}`);
  Object.defineProperty(cls.prototype, symbol, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[symbol] === true;
    },
  });
}

/** Root of every greenfiber failure. `code` is stable across versions. */
export class GreenfiberError extends Error {
  readonly code: string = 'GF_ERR';
  override name = 'GreenfiberError';

  constructor(message = 'greenfiber failed', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(GreenfiberError, 'GreenfiberError');

/**
 * Misuse of a fiber: switching to a dead or running fiber, a bad parent, a fiber of another
 * thread. Usually a programming error.
 */
export class FiberError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_FIBER';
  override name = 'FiberError';

  constructor(message = 'invalid fiber operation', options?: ErrorOptions) {
    super(message, options);
  }
}
brand(FiberError, 'FiberError');

/** The native addon could not be loaded; the message says how to fix the installation. */
export class NativeLoadError extends GreenfiberError {
  override readonly code: string = 'GF_ERR_NATIVE_LOAD';
  override name = 'NativeLoadError';
}
brand(NativeLoadError, 'NativeLoadError');

/**
 * Raised inside a fiber to unwind it: what `fiber.throw()` sends by default, and what a collected
 * suspended fiber receives. Not a failure: a fiber that lets it escape ends normally and its parent
 * receives the FiberExit instance as the value; catching and swallowing it ends the fiber normally.
 */
export class FiberExit extends Error {
  override name = 'FiberExit';

  constructor(message = 'fiber exited') {
    super(message);
  }
}
brand(FiberExit, 'FiberExit');
