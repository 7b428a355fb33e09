// greenfiber/fiber: the greenlet-level API alone (Fiber and its errors).
export { Fiber, fiberStats } from '../fiber';
export type { FiberOptions } from '../fiber';
export { FiberError, FiberExit } from '../errors';
