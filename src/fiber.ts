// Fiber: greenlet's switching primitive over the native core. Symmetric switches with values,
// errors thrown in at the suspension point, finished fibers returning to their parent.
import { AsyncResource } from 'node:async_hooks';
import { attach, detach } from './async-context';
import { type BackendName, chooseBackend, guardSetIdCalls } from './backend';
import { describe, invalidArgument, readOptions } from './validate';
import { binding } from './binding';
import { FiberError, FiberExit } from './errors';
import { guardThreadBoundCalls, tlsLoaded } from './thread-bound';

const enum State {
  Unstarted = 0,
  Running = 1,
  Suspended = 2,
  Dead = 3,
}

const enum Kind {
  Value = 0,
  Throw = 1,
}

// Native transfer statuses (native/binding.cc TransferStatus).
const transferFailures: Record<number, string> = {
  1: 'is not a usable fiber',
  2: 'belongs to another thread (each worker_thread has its own fibers); create fibers on the thread that switches to them',
  3: 'is already running: it is the current fiber. To let other fibers run, switch to another one (for example its parent)',
  4: 'is dead: it has finished and cannot be switched to again. Check `fiber.dead` first, or create a new Fiber',
  5: 'could not get an OS thread: the system refused to create one (see `ulimit -u`, vm.max_map_count and threads-max)',
  6: 'cannot run: its isolate is shutting down',
};
const kCapped = 7;

function cappedMessage(name: string): string {
  const l = binding.limits();
  const stats = binding.stats();
  const why = l.explicit
    ? `GREENFIBER_MAX_FIBERS=${l.cap}`
    : l.byMaps <= l.byTasks
      ? `each fiber thread costs 2 of vm.max_map_count's ${l.maxMapCount} memory mappings; ${l.mapsInUse} were in use at start and ${l.mapReserve} stay free for V8's heap and Node`
      : `each fiber thread is a task under ${l.taskLimitName} = ${l.taskLimit}; ${l.tasksInUse} tasks ran on the system at start and ${l.taskReserve} stay free for Node and the system`;
  return (
    `cannot switch to fiber ${JSON.stringify(name)}: greenfiber's cap of ${l.cap} fiber threads per process is reached ` +
    `(${stats.processThreads} alive, ${stats.started} fibers started on this thread; ${why}). ` +
    'Let fibers finish (or drop suspended ones) before starting more, or raise the cap: ' +
    (l.explicit
      ? 'raise or unset GREENFIBER_MAX_FIBERS'
      : (l.byMaps <= l.byTasks ? '`sysctl -w vm.max_map_count=262144`' : `raise ${l.taskLimitName}`) +
        ', or set GREENFIBER_MAX_FIBERS=<n> (at your own risk: V8 aborts when it cannot map heap pages)')
  );
}

// The value in flight between two fibers. Exactly one switch is in flight at a time per isolate,
// so one slot serves them all: the sender fills it just before the native transfer, the receiver
// empties it first thing when it runs again.
let slotKind: Kind = Kind.Value;
let slotValue: unknown;

// What a fiber about to start needs, handed to its thread the same way. The entry must never hold
// the Fiber object itself while `fn` runs: anything on a suspended fiber's stack is a GC root
// (optimizing compilers keep such values in frame slots), so a fiber that referenced itself there
// could never be collected.
let startFn: ((value: unknown) => unknown) | undefined;
// orphans[0]: how many collected suspended fibers wait to be unwound (written by the GC's weak
// callback in native/binding.cc); checked before each switch and each new fiber.
let orphans: Int32Array = new Int32Array(1);
let startResource: AsyncResource | undefined;

const kAdopt = Symbol('greenfiber.adopt');
// Whether the tls calls that touch per-thread state run on the main fiber yet (src/thread-bound.ts).
let threadBoundGuarded = false;
const kOwner = Symbol('greenfiber.owner');

type Handle = object & { [kOwner]?: Fiber };

/** @internal What a fiber parking on the hub switches to the main fiber with (src/park.ts). */
export const kParked: unique symbol = Symbol('greenfiber.parked');
// Decides what a switch returns to the main fiber when the fiber it ran parked (src/park.ts).
let parkedHandler: ((target: Fiber) => unknown) | undefined;
/** @internal */
export function setParkedHandler(handler: (target: Fiber) => unknown): void {
  parkedHandler = handler;
}
// FiberErrors thrown because a switch could not happen (the caller never left).
const transferFailures_ = new WeakSet<object>();
/** @internal Whether `error` is a failed switch's own FiberError, not one raised by a fiber. */
export function isTransferFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && transferFailures_.has(error);
}

export interface FiberOptions {
  /** A name for stack traces and reports. */
  name?: string;
  /** Where control and the return value go when the fiber finishes; defaults to the current fiber. */
  parent?: Fiber;
}

/**
 * A stackful coroutine with greenlet semantics. Each fiber runs on an OS thread of its own that
 * takes the JavaScript lock in turns, so a fiber can suspend anywhere, however deep its stack.
 *
 * Nothing here schedules: `switch()` hands control to exactly one fiber. Use `spawn()` for
 * fibers run by the hub (greenlets).
 */
export class Fiber<T = unknown> {
  #name = 'fiber';
  readonly #handle: Handle;
  readonly #id: number;
  #fn: ((value: any) => T) | undefined;
  #parent: Fiber | undefined;
  #resource: AsyncResource | undefined;

  /**
   * @param fn runs when the fiber is first switched to, with the value passed to that `switch()`.
   *   Its return value goes to the parent; an error it throws is raised in the parent.
   * @throws TypeError if `fn` is not a function or an option has the wrong type.
   */
  constructor(fn: (value: any) => T, options: FiberOptions = {}) {
    if ((fn as unknown) === kAdopt) {
      // Internal: a Fiber object for an existing native fiber (the main one, or an orphan).
      this.#handle = options as unknown as Handle;
      this.#handle[kOwner] = this;
      this.#id = binding.idOf(this.#handle);
      this.name = mainFiber === undefined ? 'main' : 'orphan';
      this.#parent = mainFiber;
      return;
    }
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected a function for fn but received ${describe(fn)}; pass the code the fiber should run, e.g. new Fiber(() => { … })`);
    }
    const { name, parent } = readOptions(options, 'options', ['name', 'parent']) as FiberOptions;
    if (parent !== undefined && !(parent instanceof Fiber)) throw invalidArgument('options.parent', 'a Fiber', parent);
    if (name !== undefined && typeof name !== 'string') {
      throw new TypeError(`Expected a string for options.name but received ${describe(name)}`);
    }
    if (orphans[0] !== 0) binding.sweep();
    if (!threadBoundGuarded) guardThreadBound();
    this.#fn = fn;
    this.name = name ?? (fn.name || 'fiber');
    this.#handle = new binding.FiberHandle();
    this.#handle[kOwner] = this;
    this.#id = binding.idOf(this.#handle);
    this.#resource = new AsyncResource('greenfiber.Fiber');
    this.#parent = Fiber.current;
    if (parent !== undefined) this.parent = parent;
  }

  /** A name for stack traces and reports. @throws TypeError when set to anything but a string. */
  get name(): string {
    return this.#name;
  }

  set name(name: string) {
    if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
    this.#name = name;
  }

  /** The fiber that is running now; outside any fiber, the main fiber. */
  static get current(): Fiber {
    return (binding.current() as Handle)[kOwner]!;
  }

  /** The main fiber of this thread: the thread itself, where Node's event loop runs. */
  static get main(): Fiber {
    return mainFiber;
  }

  /** Where control and the return value go when this fiber finishes (the first live ancestor). */
  get parent(): Fiber | undefined {
    return this.#parent;
  }

  /** @throws FiberError if `parent` would make a cycle; TypeError if it is not a Fiber. */
  set parent(parent: Fiber | undefined) {
    if (!(parent instanceof Fiber)) {
      throw new TypeError(`Expected a Fiber for parent but received ${describe(parent)}`);
    }
    for (let ancestor: Fiber | undefined = parent; ancestor !== undefined; ancestor = ancestor.#parent) {
      if (ancestor === this) throw new FiberError(`cannot make ${parent.name} the parent of ${this.name}: that would be a cyclic parent chain`);
    }
    this.#parent = parent;
  }

  /** True once the fiber has finished (returned, thrown, or been unwound). */
  get dead(): boolean {
    return binding.state(this.#handle) === State.Dead;
  }

  /** True once the fiber has been switched to for the first time. */
  get started(): boolean {
    return binding.state(this.#handle) !== State.Unstarted;
  }

  /** `'unstarted' | 'running' | 'suspended' | 'dead'`, greenlet's words. */
  get state(): 'unstarted' | 'running' | 'suspended' | 'dead' {
    return (['unstarted', 'running', 'suspended', 'dead'] as const)[binding.state(this.#handle)];
  }

  /**
   * Runs or resumes this fiber, passing it `value`, and blocks the caller until some fiber switches
   * back to it; returns the value switched back. The first switch starts `fn(value)`.
   * @throws FiberError if this fiber is dead, is the current one, or belongs to another thread;
   *   rethrows whatever is thrown back into the caller (for example a child's uncaught error).
   */
  switch(value?: unknown): unknown {
    return transfer(this, Kind.Value, value);
  }

  /**
   * Raises `error` inside this fiber at its suspension point (default: a FiberExit, which unwinds
   * it) and blocks the caller like `switch()`. A fiber that has not started dies without running.
   * @throws FiberError as `switch()` does.
   */
  throw(error: unknown = new FiberExit()): unknown {
    return transfer(this, Kind.Throw, error);
  }

  /**
   * @internal The caller keeps `fiber` referenced for as long as it is started (a live greenlet is
   * in the live set), so it cannot be dropped while suspended: the native core's GC hints for
   * dropped fibers leave it out (a burst of greenlets would otherwise ask for a full GC per doubling).
   */
  static hold(fiber: Fiber): void {
    binding.hold(fiber.#handle);
  }

  /** @internal The id binding.transfer() takes. */
  static idOf(fiber: Fiber): number {
    return fiber.#id;
  }

  /**
   * @internal If `fiber` has not started, moves its fn and resource into the start slots (its
   * thread takes them from there). Returns whether it did, so a failed transfer can undo it.
   */
  static prepareStart(fiber: Fiber): boolean {
    if (fiber.#fn === undefined) return false;
    startFn = fiber.#fn;
    startResource = fiber.#resource;
    fiber.#fn = undefined;
    fiber.#resource = undefined;
    return true;
  }

  /** @internal Undoes prepareStart() after a transfer that did not happen. */
  static unprepareStart(fiber: Fiber): void {
    fiber.#fn = startFn as (value: unknown) => never;
    fiber.#resource = startResource;
    startFn = undefined;
    startResource = undefined;
  }

  /** @internal The first live ancestor's handle, or undefined for the main fiber. */
  static returnTarget(fiber: Fiber): Handle | undefined {
    let parent = fiber.#parent;
    while (parent !== undefined && parent.dead) parent = parent.#parent;
    if (parent === undefined) return undefined;
    Fiber.prepareStart(parent);
    return parent.#handle;
  }
}

function receive(): unknown {
  const kind = slotKind;
  const value = slotValue;
  slotKind = Kind.Value;
  slotValue = undefined;
  if (kind === Kind.Throw) throw value;
  return value;
}

function transfer(target: Fiber, kind: Kind, value: unknown): unknown {
  if (!(target instanceof Fiber)) {
    throw new TypeError(`Expected a Fiber for this but received ${describe(target)}; call switch() on a Fiber`);
  }
  const switchedTo = target;
  for (;;) {
    const received = transferOnce(target, kind, value);
    if (received === kMainCall && pendingMainCall !== undefined) {
      // A fiber asked to run a function here, on the main fiber (callOnMain): run it and switch
      // straight back to that fiber with its outcome, before anything else runs on the hub.
      const call = pendingMainCall;
      pendingMainCall = undefined;
      try {
        value = call.fn();
        kind = Kind.Value;
      } catch (error) {
        value = error;
        kind = Kind.Throw;
      }
      target = call.fiber;
      continue;
    }
    return received === kParked && parkedHandler !== undefined ? parkedHandler(switchedTo) : received;
  }
}

// What a fiber switches to the main fiber with to have pendingMainCall run there (callOnMain()).
const kMainCall: unique symbol = Symbol('greenfiber.mainCall');
let pendingMainCall: { fiber: Fiber; fn: () => unknown } | undefined;

/**
 * @internal Runs `fn` on the main fiber (the thread's own OS thread and thread-local state) and
 * returns what it returns, or throws what it throws. From a fiber, it switches to the main fiber,
 * which runs `fn` at once and switches straight back: nothing else runs on the hub in between and
 * the fiber does not park. On the main fiber it just calls `fn`. For Node internals that keep
 * per-thread state (a C++ `thread_local`) and break when more than one thread uses them.
 */
export function callOnMain<T>(fn: () => T): T {
  const current = Fiber.current;
  if (current === mainFiber) return fn();
  pendingMainCall = { fiber: current, fn };
  try {
    return transfer(mainFiber, Kind.Value, kMainCall) as T;
  } finally {
    pendingMainCall = undefined;
  }
}

/** One switch to `target`; returns what the next switch back to this fiber brings. */
function transferOnce(target: Fiber, kind: Kind, value: unknown): unknown {
  if (orphans[0] !== 0) binding.sweep();
  let status = send(target, kind, value);
  if (status === kCapped) {
    // Dropped suspended fibers may hold threads the GC has not found yet: collect, unwind, retry.
    binding.reclaim();
    binding.sweep();
    status = send(target, kind, value);
  }
  if (status !== 0) {
    const failure =
      status === kCapped
        ? new FiberError(cappedMessage(target.name))
        : new FiberError(`cannot switch to fiber ${JSON.stringify(target.name)}: it ${transferFailures[status] ?? `failed (status ${status})`}`);
    transferFailures_.add(failure);
    throw failure;
  }
  return receive();
}

/** One native transfer; on failure nothing changed (the slots are empty again). */
function send(target: Fiber, kind: Kind, value: unknown): number {
  slotKind = kind;
  slotValue = value;
  const starting = Fiber.prepareStart(target);
  const saved = detach();
  const status = binding.transfer(Fiber.idOf(target));
  attach(saved);
  if (status !== 0) {
    if (starting) Fiber.unprepareStart(target);
    slotKind = Kind.Value;
    slotValue = undefined;
  }
  return status;
}

/**
 * Runs on a new fiber's own thread (called by the native core). Returns the handle of the fiber
 * to hand control to when this one is done, having left the outcome in the slot.
 */
function entry(): object | undefined {
  const fn = startFn!;
  const resource = startResource;
  startFn = undefined;
  startResource = undefined;
  let kind = Kind.Value;
  let result: unknown;
  try {
    const start = receive(); // a throw() into an unstarted fiber raises here, before fn runs
    result = resource === undefined ? fn(start) : resource.runInAsyncScope(fn, undefined, start);
  } catch (error) {
    if (error instanceof FiberExit) {
      result = error;
    } else {
      kind = Kind.Throw;
      result = error;
    }
  }
  slotKind = kind;
  slotValue = result;
  return Fiber.returnTarget(Fiber.current);
}

/** A collected suspended fiber: unwind it with FiberExit so its finally blocks run. */
function unwindOrphan(handle: object): void {
  const fiber = new Fiber(kAdopt as never, handle as never);
  // As greenlet does: a collected fiber dies into the fiber that found it, which then goes on.
  fiber.parent = Fiber.current;
  try {
    fiber.throw(new FiberExit('fiber was garbage collected while suspended'));
  } catch (error) {
    process.stderr.write(`greenfiber: a collected fiber raised while it was unwound (ignored): ${(error as Error)?.stack ?? String(error)}\n`);
  }
}

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new FiberError(`Expected a whole number >= 0 for the environment variable ${name} but received ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Defaults of the thread pool (README "Limits and lifecycle"). */
const kIdleMs = 10_000;
const kIdleKeep = 16;

function policyFromEnv(): { spinNs: number; pin: boolean; idleMs: number; idleKeep: number; maxFibers: number; backend: BackendName } {
  const spin = Number(process.env.GREENFIBER_SPIN_NS);
  return {
    spinNs: Number.isFinite(spin) && spin >= 0 ? spin : 20_000,
    pin: process.env.GREENFIBER_PIN === '1',
    idleMs: envCount('GREENFIBER_IDLE_MS', kIdleMs),
    idleKeep: envCount('GREENFIBER_IDLE_THREADS', kIdleKeep),
    maxFibers: envCount('GREENFIBER_MAX_FIBERS', 0),
    backend: chooseBackend(),
  };
}

// V8 aborts the process when it garbage-collects WebAssembly code while other threads are archived
// ("archived threads in combination with wasm not supported"; seen on Node 20, 22, 24 and 26), and
// every suspended fiber is an archived thread. undici's HTTP parser (fetch) is wasm. Turning wasm
// code GC off is the only public switch: compiled wasm code is then never freed.
// GREENFIBER_KEEP_WASM_CODE_GC=1 leaves it on (for reproducing the abort).
if (process.env.GREENFIBER_KEEP_WASM_CODE_GC !== '1') {
  require('node:v8').setFlagsFromString('--no-wasm-code-gc');
}

const kRuntime = Symbol.for('greenfiber.runtime');
const globals = globalThis as unknown as Record<symbol, unknown>;
if (globals[kRuntime] !== undefined && globals[kRuntime] !== binding) {
  throw new FiberError(
    `two copies of greenfiber are loaded in this thread (this one from ${__dirname}); they cannot share it. ` +
      'Make every package depend on one version (npm dedupe) and load it either as ESM or as CommonJS through the package entry points.',
  );
}
globals[kRuntime] = binding;

let mainFiber: Fiber = undefined as never;
mainFiber = new Fiber(kAdopt as never, binding.setup(entry, unwindOrphan, policyFromEnv()) as never);
orphans = new Int32Array(binding.orphanFlag());
// At load when node:tls is loaded already, else with the first fiber: loading it costs 5-30 ms,
// paid only by programs that make fibers.
function guardThreadBound(): void {
  threadBoundGuarded = true;
  guardThreadBoundCalls(callOnMain);
}
if (tlsLoaded()) guardThreadBound();
if (binding.stats().backend === 'tcb') guardSetIdCalls(callOnMain);

/** What fiberStats() reports. Counts are for this thread's isolate (each worker_thread has its own) unless said otherwise. */
export interface FiberStats {
  /** `'tcb'`: fibers run on this thread on borrowed stacks (GREENFIBER_BACKEND); `'thread'`: one OS thread each. */
  backend: BackendName;
  /** OS threads alive for fibers: running, suspended or pooled (for `'tcb'`: donor threads, parked or lent). */
  threads: number;
  /** Pooled threads (`'tcb'`: donors) waiting for a new fiber; given back after GREENFIBER_IDLE_MS beyond a warm reserve of GREENFIBER_IDLE_THREADS. */
  idle: number;
  /** Fibers started and not yet dead. */
  started: number;
  /** Collected suspended fibers not yet unwound. */
  orphans: number;
  /** Fiber threads alive in the whole process (all worker threads, both backends: donors count). */
  processThreads: number;
  /** The process-wide cap on fiber threads (README "Limits and lifecycle"). */
  cap: number;
  /** Times control passed from one fiber to another since the isolate started. */
  switches: number;
  /** `'thread'` only (0 for `'tcb'`): wakes where the woken thread was still spinning (cheap, ~1-2 µs). */
  hotWakes: number;
  /** `'thread'` only (0 for `'tcb'`): wakes where the woken thread had parked in the kernel (10-40 µs each). */
  coldWakes: number;
}

/**
 * Native counters for diagnostics: the backend, threads, fibers, switches and the process-wide cap.
 * A workload whose `coldWakes` is a large share of `switches` is paying the kernel for every switch
 * (see README). Any fiber may call it; it never blocks.
 */
export function fiberStats(): FiberStats {
  return binding.stats();
}
