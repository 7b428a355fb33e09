// greenfiber/pool: groups and pools of greenlets (gevent.pool) and the worker-thread pool.
export { Group, Pool } from '../pool';
export type { GroupKillOptions, IMapOptions } from '../pool';
export { ThreadPool } from '../threadpool';
export type { ThreadPoolOptions } from '../threadpool';
export { WorkerCrashedError, ThreadPoolClosedError } from '../errors';
