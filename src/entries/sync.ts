// greenfiber/sync: cooperative synchronisation alone (gevent.event, gevent.lock, gevent.queue).
export { Event, AsyncResult } from '../event';
export { Semaphore, BoundedSemaphore, Lock, RLock } from '../lock';
export type { AcquireOptions } from '../lock';
export { Condition } from '../condition';
export type { ConditionLock } from '../condition';
export { Queue, LifoQueue, PriorityQueue, JoinableQueue, Channel, naturalOrder } from '../queue';
export type { PutOptions, GetOptions, PriorityQueueOptions } from '../queue';
export { QueueEmpty, QueueFull, QueueShutDown, OverReleaseError } from '../errors';
