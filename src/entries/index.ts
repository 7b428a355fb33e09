// greenfiber: greenlet-style fibers for Node.js. This file only re-exports.
export { Fiber, fiberStats, type FiberStats } from '../fiber';
export type { FiberOptions } from '../fiber';
export { GreenfiberError, FiberError, FiberExit, NativeLoadError } from '../errors';
export * from './sync';
export * from './pool';
export { hub, getCurrent, sleep, idle, Waiter, Hub } from '../hub';
export type { HubCallback } from '../hub';
export { Greenlet, spawn, spawnLater, joinAll, killAll } from '../greenlet';
export { Timeout, withTimeout } from '../timeout';
export { wait, waitAll, iwait, blocking } from '../wait';
export type { WaitableLike } from '../wait';
export { main } from '../main';
export { local } from '../local';
export { runInfo } from '../run-info';
export { GreenletExit, BlockingOnHubError, LoopExit } from '../errors';
export { HttpError, HttpTimeoutError, HttpConnectionError, HttpBadUrlError, HttpBodyTooLargeError, SocketTimeoutError, SocketClosedError, IncompleteReadError } from '../errors';
export { kLink, kUnlink, kReady, kResult, isWaitable } from '../waitable';
export type { Waitable } from '../waitable';
