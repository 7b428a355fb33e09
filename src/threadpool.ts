// ThreadPool: CPU-bound JavaScript on worker_threads while the calling greenlet is parked
// (gevent.threadpool; concurrent.futures' executors). Calls name a module and an export, because
// functions cannot cross threads; arguments and results are structured-cloned.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ThreadPoolClosedError, WorkerCrashedError } from './errors';
import { AsyncResult } from './event';
import { assertCanBlock } from './hub';
import { describe } from './linkable';
import { checkCount, checkString, invalidArgument, readOptions } from './validate';
import type { Reply, SerializedError, Task } from './threadpool-worker';

const workerScript = path.join(__dirname, 'threadpool-worker.js');

export interface ThreadPoolOptions {
  /** V8 heap limits for each worker (worker_threads' resourceLimits). */
  resourceLimits?: ResourceLimits;
}

interface Call {
  task: Task;
  result: AsyncResult<unknown>;
}

interface Slot {
  worker: Worker;
  call: Call | undefined;
  /** The uncaught error the worker died of, if it reported one before exiting. */
  crash: Error | undefined;
}

const errorTypes: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Rebuilds an error thrown in a worker: same class (for built-in ones), name, message, stack, own properties. */
function reviveError(serialized: SerializedError | { thrown: unknown }): unknown {
  if ('thrown' in serialized) return serialized.thrown;
  const { name, message, stack, props } = serialized;
  const error = new (errorTypes[name] ?? Error)(message);
  if (error.name !== name) Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  Object.defineProperty(error, 'stack', { value: stack, configurable: true, writable: true });
  for (const key of Object.keys(props)) {
    Object.defineProperty(error, key, { value: props[key], configurable: true, writable: true, enumerable: key !== 'cause' });
  }
  return error;
}

const resolved = new Map<string, string>();

/**
 * Turns `moduleOrFile` into what the worker imports: file URLs and `node:` modules as they are,
 * paths (absolute, starting with `.`, or naming a file that exists relative to process.cwd()) as
 * file URLs, anything else as a package name resolved from process.cwd().
 */
function resolveSpecifier(moduleOrFile: string): string {
  const cached = resolved.get(moduleOrFile);
  if (cached !== undefined) return cached;
  let specifier: string;
  if (/^(file|data|node):/.test(moduleOrFile)) {
    specifier = moduleOrFile;
  } else if (path.isAbsolute(moduleOrFile) || moduleOrFile.startsWith('.') || existsSync(path.resolve(process.cwd(), moduleOrFile))) {
    specifier = pathToFileURL(path.resolve(process.cwd(), moduleOrFile)).href;
  } else {
    try {
      specifier = pathToFileURL(createRequire(path.join(process.cwd(), 'noop.js')).resolve(moduleOrFile)).href;
    } catch {
      specifier = moduleOrFile; // let the worker's import() try (and explain) it
    }
  }
  resolved.set(moduleOrFile, specifier);
  return specifier;
}

/**
 * A pool of up to `size` worker threads for CPU-bound JavaScript (gevent.threadpool.ThreadPool).
 * Workers start on demand, are reused, and do not keep the process alive while idle. A worker
 * that dies (process.exit(), an uncaught error, out of memory) fails the call it was running
 * with WorkerCrashedError and is replaced.
 */
export class ThreadPool {
  readonly #size: number;
  readonly #options: ThreadPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Call[] = [];
  #queueHead = 0;
  #nextId = 1;
  #closed = false;
  #killed = false;

  /**
   * @param size the most worker threads (default: os.availableParallelism()).
   * @throws TypeError unless `size` is a number and `options` an object; RangeError unless `size`
   *   is a positive integer.
   */
  constructor(size: number = availableParallelism(), options: ThreadPoolOptions = {}) {
    this.#size = checkCount(size, 'size', 1)!;
    const { resourceLimits } = readOptions(options, 'options', ['resourceLimits']);
    if (resourceLimits !== undefined && (typeof resourceLimits !== 'object' || resourceLimits === null)) {
      throw invalidArgument('options.resourceLimits', 'an object (worker_threads resourceLimits)', resourceLimits);
    }
    this.#options = { resourceLimits: resourceLimits as ResourceLimits | undefined };
  }

  /** The most worker threads. */
  get size(): number {
    return this.#size;
  }

  /** Worker threads alive now. */
  get threads(): number {
    return this.#slots.length;
  }

  /** Calls waiting for a free worker. */
  get pending(): number {
    return this.#queue.length - this.#queueHead;
  }

  /**
   * Runs `exportName(...args)` from `moduleOrFile` on a worker thread and returns its result,
   * blocking the calling greenlet (only) until it is done. Async exports are awaited in the worker.
   * @param moduleOrFile an absolute path, a path relative to process.cwd(), a file: URL, or a
   *   package name (resolved from process.cwd()); ES modules and CommonJS both work.
   * @throws the error the export threw (same class for built-in errors, same name, message,
   *   stack and own properties such as `code`); WorkerCrashedError if the worker died meanwhile;
   *   ThreadPoolClosedError after kill(), or if called after close(); BlockingOnHubError in a
   *   plain loop callback (use spawn() there). If the calling greenlet is killed or times out
   *   while waiting, a call still queued is dropped; one already running finishes unobserved.
   */
  run<R = unknown>(moduleOrFile: string | URL, exportName: string, ...args: unknown[]): R {
    assertCanBlock();
    const call = this.#submit(moduleOrFile, exportName, args);
    try {
      return call.result.get() as R;
    } catch (error) {
      this.#dequeue(call);
      throw error;
    }
  }

  /**
   * Like run(), without blocking: returns an AsyncResult that settles with the outcome (gevent's
   * ThreadPool.spawn). Callable from anywhere.
   */
  spawn<R = unknown>(moduleOrFile: string | URL, exportName: string, ...args: unknown[]): AsyncResult<R> {
    return this.#submit(moduleOrFile, exportName, args).result as AsyncResult<R>;
  }

  #submit(moduleOrFile: string | URL, exportName: string, args: unknown[]): Call {
    if (typeof moduleOrFile !== 'string' && !(moduleOrFile instanceof URL)) {
      throw invalidArgument('moduleOrFile', 'a path, file URL or module name', moduleOrFile);
    }
    checkString(exportName, 'exportName');
    if (this.#closed) throw new ThreadPoolClosedError();
    const call: Call = {
      task: { id: this.#nextId++, specifier: resolveSpecifier(String(moduleOrFile)), exportName, args },
      result: new AsyncResult<unknown>(),
    };
    this.#queue.push(call);
    this.#dispatch();
    return call;
  }

  #dequeue(call: Call): void {
    const index = this.#queue.indexOf(call, this.#queueHead);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  // Hands queued calls to idle workers, starting workers up to `size`.
  #dispatch(): void {
    while (this.#queueHead < this.#queue.length) {
      let slot = this.#slots.find((candidate) => candidate.call === undefined);
      if (slot === undefined) {
        if (this.#slots.length >= this.#size) break;
        slot = this.#startWorker();
      }
      const call = this.#queue[this.#queueHead];
      this.#queue[this.#queueHead++] = undefined as never;
      if (this.#queueHead > 64 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
      try {
        slot.worker.postMessage(call.task);
      } catch (error) {
        call.result.setException(new TypeError(`ThreadPool: the arguments of ${call.task.exportName}() cannot be sent to a worker thread (they must be structured-cloneable): ${(error as Error).message}`, { cause: error }));
        continue;
      }
      slot.call = call;
      slot.worker.ref();
    }
    if (this.#queueHead === this.#queue.length && this.#queueHead > 0) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
    if (this.#closed) {
      for (const slot of this.#slots) if (slot.call === undefined) void slot.worker.terminate();
    }
  }

  #startWorker(): Slot {
    const worker = new Worker(workerScript, { resourceLimits: this.#options.resourceLimits });
    const slot: Slot = { worker, call: undefined, crash: undefined };
    worker.on('message', (reply: Reply) => this.#onReply(slot, reply));
    worker.on('error', (error: Error) => {
      slot.crash = error;
    });
    worker.on('exit', (code: number) => this.#onExit(slot, code));
    worker.unref();
    this.#slots.push(slot);
    return slot;
  }

  // In a loop callback: settles the call (which wakes its greenlet through the hub).
  #onReply(slot: Slot, reply: Reply): void {
    const call = slot.call;
    if (call === undefined || call.task.id !== reply.id) return;
    slot.call = undefined;
    slot.worker.unref();
    if (reply.ok) {
      const value = reply.buffer ? Buffer.from((reply.value as Uint8Array).buffer, (reply.value as Uint8Array).byteOffset, (reply.value as Uint8Array).byteLength) : reply.value;
      call.result.set(value);
    } else {
      call.result.setException(reviveError(reply.error));
    }
    this.#dispatch();
  }

  #onExit(slot: Slot, code: number): void {
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
    const call = slot.call;
    slot.call = undefined;
    if (call !== undefined) {
      if (this.#killed) {
        call.result.setException(new ThreadPoolClosedError('the ThreadPool was killed while this call ran'));
      } else {
        const why = slot.crash !== undefined ? `: ${slot.crash.name}: ${slot.crash.message}` : ` with exit code ${code}`;
        call.result.setException(
          new WorkerCrashedError(`the worker thread running ${call.task.exportName}() from ${call.task.specifier} died${why}; the call was not completed (the worker has been replaced)`, {
            cause: slot.crash,
          }),
        );
      }
    }
    if (!this.#killed) this.#dispatch();
  }

  /**
   * Takes no more calls; calls already submitted still run, then the workers exit. Never blocks.
   */
  close(): void {
    this.#closed = true;
    this.#dispatch();
  }

  /**
   * Terminates every worker now. Calls queued or running fail with ThreadPoolClosedError; the
   * pool takes no more calls. Never blocks.
   */
  kill(): void {
    this.#closed = true;
    this.#killed = true;
    const queued = this.#queue.slice(this.#queueHead);
    this.#queue.length = 0;
    this.#queueHead = 0;
    for (const call of queued) call.result.setException(new ThreadPoolClosedError('the ThreadPool was killed before this call started'));
    for (const slot of this.#slots) void slot.worker.terminate();
  }

  toString(): string {
    return `<ThreadPool size=${this.#size} threads=${this.#slots.length} pending=${this.pending}>`;
  }
}
