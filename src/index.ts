// greenfiber: greenlet-style fibers for Node.js. This file only re-exports.
export { Fiber, fiberStats } from './fiber';
export type { FiberOptions } from './fiber';
export { GreenfiberError, FiberError, FiberExit, NativeLoadError } from './errors';
