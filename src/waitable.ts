// The waitable protocol: what wait(), waitAll() and iwait() accept besides promises. Greenlet,
// Event and AsyncResult implement it; anything else can too.

/** Registers a callback run on the hub once the object is ready (scheduled at once if it already is). */
export const kLink = Symbol.for('greenfiber.waitable.link');
/** Removes a callback registered with kLink; a no-op if it is not registered. */
export const kUnlink = Symbol.for('greenfiber.waitable.unlink');
/** Whether the object is ready now (never blocks). */
export const kReady = Symbol.for('greenfiber.waitable.ready');
/** Once ready: returns the object's value or throws its error (never blocks). */
export const kResult = Symbol.for('greenfiber.waitable.result');

export interface Waitable<T = unknown> {
  [kLink](callback: (source: Waitable<T>) => void): void;
  [kUnlink](callback: (source: Waitable<T>) => void): void;
  [kReady](): boolean;
  [kResult](): T;
}

export function isWaitable(value: unknown): value is Waitable {
  return typeof value === 'object' && value !== null && typeof (value as Waitable)[kLink] === 'function' && typeof (value as Waitable)[kReady] === 'function';
}
