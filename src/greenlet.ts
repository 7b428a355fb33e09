// Greenlet: a fiber scheduled by the hub, with a result, links and kill (gevent.Greenlet), plus
// spawn/spawnLater/joinAll/killAll. Joiners and links sit on the shared waiting base (linkable.ts);
// the registry of live greenlets is live-greenlets.ts.
import { callSoon, type HubCallback } from './callbacks';
import { FiberError, FiberExit, GreenletExit } from './errors';
import { Fiber, kParked } from './fiber';
import { Linkable, Only } from './linkable';
import { live } from './live-greenlets';
import { releaseLocals } from './local';
import { setLongTimeout, type LongTimer } from './long-timer';
import { canBlock, resume, resumeThrow } from './park';
import { handleError, kDescribe, settings } from './report';
import { framesOf } from './stack';
import { Timeout } from './timeout';
import { checkCount, checkDelay, checkFunction, checkIterable, checkOptionalBoolean, checkTimeout, invalidArgument, readOptions } from './validate';
import { isThenable, iwait, wait, waitAll } from './wait';
import { Waiter } from './waiter';
import { kLink, kReady, kResult, kUnlink, type Waitable } from './waitable';

export { liveGreenlets } from './live-greenlets';

const enum Phase {
  /** Created, not started: start() or startLater() not called yet. */
  Created = 0,
  /** start()/startLater() called; the hub has not switched to it yet. */
  Scheduled = 1,
  /** Its function runs (or is parked). */
  Running = 2,
  /** Finished, failed or killed: the outcome is set. */
  Done = 3,
}

const enum Outcome {
  None = 0,
  Value = 1,
  Error = 2,
}

/** A greenlet's links and joiners, on the shared waiting base; callbacks get the greenlet. */
class GreenletLinks extends Linkable {
  constructor(readonly greenlet: Greenlet<any>) {
    super();
  }

  ready(): boolean {
    return this.greenlet.ready();
  }

  protected result(): unknown {
    return undefined;
  }

  protected override linkSource(): unknown {
    return this.greenlet;
  }

  add(callback: (greenlet: any) => void, inFiber: boolean, only: Only): void {
    this.addLink(callback, inFiber, only);
  }

  remove(callback: (greenlet: any) => void): void {
    this.removeLink(callback);
  }

  /** Blocks until finished or `timeout` ms; see Linkable.waitCore. */
  wait(timeout: number | undefined, raiseTimeout: boolean): boolean {
    return this.waitCore(timeout, raiseTimeout);
  }

  notify(): void {
    this.grantAll();
  }
}

let nextId = 1;

// Three frames: enough to reach the caller through a Pool or Group (greenfiber's own frames are
// left out when printed); each frame costs ~1 µs at spawn time.
const SPAWN_SITE_FRAMES = 3;
// The public function the user called (spawn, spawnLater): its frame and those above it are left
// out of the spawn site.
let siteFrom: Function | undefined;

function captureSite(from: Function): { stack?: string } | undefined {
  if (!settings.captureSpawnSites) return undefined;
  const site: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = SPAWN_SITE_FRAMES;
  Error.captureStackTrace(site, from);
  Error.stackTraceLimit = limit;
  return site;
}

/**
 * A fiber run by the hub, with an outcome others can wait for (gevent.Greenlet). Create one with
 * `spawn(fn, ...args)` (or `new Greenlet(fn, ...args).start()`); it starts on the next hub turn.
 *
 * An error escaping `fn` is stored on the greenlet (`exception`) and reported on stderr with the
 * greenlet's name and spawn site (see hub.onError, hub.strict); a GreenletExit escaping it makes
 * it end successfully with that GreenletExit as its value. Implements the waitable protocol, so
 * `wait(greenlet)` returns its value. Disposable: `using g = spawn(fn)` kills it at scope end.
 */
export class Greenlet<T = unknown> extends Fiber<void> implements Waitable<T> {
  /** A number unique in this process, shown in reports. */
  readonly id: number;
  #fn: ((...args: any[]) => T) | undefined;
  #args: unknown[];
  #phase: Phase = Phase.Created;
  #start: HubCallback | LongTimer | undefined = undefined;
  #outcome: Outcome = Outcome.None;
  #result: unknown = undefined;
  #links: GreenletLinks | undefined = undefined;
  #site: { stack?: string } | undefined;
  #promise: Promise<T> | undefined = undefined;
  /** @internal main() owns the error: it goes to its promise, not to the reporter. */
  reportErrors = true;

  /**
   * Creates a greenlet that will run `fn(...args)`; nothing runs until start() or startLater().
   * @throws TypeError if `fn` is not a function.
   */
  constructor(fn: (...args: any[]) => T, ...args: unknown[]) {
    const from = siteFrom ?? new.target;
    siteFrom = undefined;
    checkFunction(fn, 'fn', 'pass the code the greenlet should run, e.g. spawn(() => { … })');
    const id = nextId++;
    super(runGreenlet as never, { name: fn.name || `Greenlet-${id}`, parent: Fiber.main });
    Fiber.hold(this); // started, it is in the live set until it finishes
    this.id = id;
    this.#fn = fn;
    this.#args = args;
    this.#site = captureSite(from);
  }

  /** Creates and starts a greenlet: `spawn(fn, ...args)`. */
  static spawn<A extends unknown[], T>(fn: (...args: A) => T, ...args: A): Greenlet<T> {
    siteFrom = Greenlet.spawn;
    const greenlet = new Greenlet(fn, ...args);
    greenlet.start();
    return greenlet;
  }

  /** Schedules the greenlet to start on the next hub turn. A no-op if already started or killed. */
  start(): void {
    if (this.#phase !== Phase.Created) return;
    this.#phase = Phase.Scheduled;
    live.add(this);
    this.#start = callSoon(startGreenlet, this);
  }

  /**
   * Schedules the greenlet to start in `ms` milliseconds (any length; Infinity: never, until
   * killed; negative: as 0). A no-op if already started or killed.
   * @throws TypeError if `ms` is not a number, RangeError if it is NaN.
   */
  startLater(ms: number): void {
    const delay = checkDelay(ms, 'ms');
    if (this.#phase !== Phase.Created) return;
    this.#phase = Phase.Scheduled;
    live.add(this);
    this.#start = setLongTimeout(startGreenlet, delay, this);
  }

  /**
   * gevent's meaning: true while the greenlet is scheduled or running, false before start() and
   * once it has finished (use `dead` / `ready()` for that).
   */
  override get started(): boolean {
    return this.#phase === Phase.Scheduled || this.#phase === Phase.Running;
  }

  /**
   * True once the greenlet has finished, failed or been killed and will not run again (also when
   * killed before it started). False while it runs.
   */
  override get dead(): boolean {
    return this.#phase === Phase.Done && Fiber.current !== this;
  }

  /** `'unstarted' | 'running' | 'suspended' | 'dead'`; a greenlet killed before it started is dead. */
  override get state(): 'unstarted' | 'running' | 'suspended' | 'dead' {
    if (this.#phase === Phase.Done && Fiber.current !== this) return 'dead';
    return super.state;
  }

  /** Whether the greenlet has finished (its outcome is set). Never blocks. */
  ready(): boolean {
    return this.#outcome !== Outcome.None;
  }

  /** Whether it finished without an error (being killed with GreenletExit counts as success). */
  successful(): boolean {
    return this.#outcome === Outcome.Value;
  }

  /** What `fn` returned (or the GreenletExit that ended it); undefined until it succeeded. */
  get value(): T | undefined {
    return this.#outcome === Outcome.Value ? (this.#result as T) : undefined;
  }

  /** The error `fn` threw; undefined unless it failed. */
  get exception(): unknown {
    return this.#outcome === Outcome.Error ? this.#result : undefined;
  }

  /**
   * Waits until the greenlet has finished, or `timeout` ms passed; returns whether it finished.
   * Blocks (see Waiter.get()); never raises the greenlet's error.
   * @throws FiberError when called by the greenlet itself (it would wait for itself forever);
   *   TypeError / RangeError for a bad `timeout` (see the rule for times in the README).
   */
  join(timeout?: number | null): boolean {
    timeout = checkTimeout(timeout);
    if (this.#outcome !== Outcome.None) return true;
    this.#notSelf('join');
    this.#linkable().wait(timeout, false);
    return this.#outcome !== Outcome.None;
  }

  /**
   * Returns the greenlet's value, or throws its error, once it has finished. With `block: false`
   * (or when `timeout` expires first) throws a Timeout instead of waiting. Blocks otherwise.
   */
  get(options: { block?: boolean; timeout?: number | null } = {}): T {
    const { block, timeout: rawTimeout } = readOptions(options, 'options', ['block', 'timeout']);
    checkOptionalBoolean(block, 'options.block');
    const timeout = checkTimeout(rawTimeout, 'options.timeout');
    if (this.#outcome === Outcome.None) {
      if (block === false) throw new Timeout(0);
      this.#notSelf('get');
      this.#linkable().wait(timeout, true);
    }
    if (this.#outcome === Outcome.Error) throw this.#result;
    return this.#result as T;
  }

  /**
   * Raises `error` (a new GreenletExit by default) in the greenlet at its suspension point, from
   * the hub. A greenlet that has not started never runs; a finished one is left alone; killing
   * twice is harmless. With `block` (the default) waits until it is dead, or `timeout` ms; with
   * `block: false` returns at once. Never throws the greenlet's error.
   */
  kill(error: unknown = new GreenletExit(), options: { block?: boolean; timeout?: number | null } = {}): void {
    const read = readOptions(options, 'options', ['block', 'timeout']);
    checkOptionalBoolean(read.block, 'options.block');
    const timeout = checkTimeout(read.timeout, 'options.timeout');
    if (this.#killBeforeStart(error)) return;
    if (this.#outcome !== Outcome.None) return;
    const block = read.block !== false;
    const waiter = block ? new Waiter<void>() : undefined;
    callSoon(killNow, { greenlet: this, error, waiter });
    if (waiter !== undefined) {
      waiter.get();
      this.join(timeout);
    }
  }

  /** Kills it (waiting for it when the scope may block): `using g = spawn(fn)`. */
  [Symbol.dispose](): void {
    this.kill(undefined, { block: canBlock() });
  }

  /**
   * Calls `callback(greenlet)` once the greenlet has finished (at once, on the next hub turn, if
   * it already has), in a fiber of its own so it may block. Errors it throws are reported.
   */
  link(callback: (greenlet: this) => void): void {
    this.#linkable().add(callback, true, Only.Always);
  }

  /** Like link(), but only if the greenlet succeeds. */
  linkValue(callback: (greenlet: this) => void): void {
    this.#linkable().add(callback, true, Only.Success);
  }

  /** Like link(), but only if the greenlet fails. */
  linkException(callback: (greenlet: this) => void): void {
    this.#linkable().add(callback, true, Only.Failure);
  }

  /** Like link(), but `callback` runs on the hub itself: cheaper, and it must not block. */
  rawlink(callback: (greenlet: this) => void): void {
    this.#linkable().add(callback, false, Only.Always);
  }

  /** Removes a callback added with link(), linkValue(), linkException() or rawlink(). */
  unlink(callback: (greenlet: this) => void): void {
    checkFunction(callback, 'callback');
    this.#links?.remove(callback);
  }

  /** A promise of the outcome, for async code: resolves with the value, rejects with the error. */
  promise(): Promise<T> {
    if (this.#promise === undefined) {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.rawlink(() => (this.#outcome === Outcome.Error ? reject(this.#result) : resolve(this.#result as T)));
      });
    }
    return this.#promise;
  }

  /** The waitable protocol (src/waitable.ts): runs `callback` on the hub once finished. */
  [kLink](callback: (source: Waitable<T>) => void): void {
    this.#linkable().add(callback, false, Only.Always);
  }

  /** The waitable protocol: removes a callback added with kLink. */
  [kUnlink](callback: (source: Waitable<T>) => void): void {
    this.unlink(callback);
  }

  /** The waitable protocol: ready(). */
  [kReady](): boolean {
    return this.#outcome !== Outcome.None;
  }

  /** The waitable protocol: the value, or throws the error (never blocks). */
  [kResult](): T {
    if (this.#outcome === Outcome.Error) throw this.#result;
    return this.#result as T;
  }

  /** @internal Name, id and spawn site, for reports. */
  [kDescribe](): string {
    const frames = framesOf(this.#site);
    return `Greenlet ${JSON.stringify(this.name)} #${this.id}${frames ? `\n  spawned at:\n${frames}` : ''}`;
  }

  /** @internal Where it was spawned from (frames only), if recorded. */
  get spawnSite(): string {
    return framesOf(this.#site);
  }

  override toString(): string {
    return `<Greenlet ${JSON.stringify(this.name)} #${this.id} ${this.state}>`;
  }

  /** @internal Runs on the greenlet's own fiber: the body of every greenlet. */
  static run(greenlet: Greenlet<any>): void {
    const fn = greenlet.#fn;
    const args = greenlet.#args;
    greenlet.#fn = undefined;
    greenlet.#args = EMPTY;
    if (fn === undefined) return; // killed before it started, then switched to by hand
    greenlet.#phase = Phase.Running;
    let result: unknown;
    try {
      result = args.length === 0 ? fn() : fn(...args);
      // An async function (or any returned thenable): the greenlet takes its outcome.
      if (isThenable(result)) result = wait(result);
    } catch (error) {
      if (error instanceof FiberExit) greenlet.#finish(Outcome.Value, error);
      else greenlet.#finish(Outcome.Error, error);
      return;
    }
    greenlet.#finish(Outcome.Value, result);
  }

  /** @internal From the hub: the start callback or timer fired. */
  static startNow(greenlet: Greenlet<any>): void {
    if (greenlet.#phase !== Phase.Scheduled) return;
    greenlet.#start = undefined;
    try {
      resume(greenlet, greenlet);
    } catch (error) {
      // The fiber could not start (no OS thread): it dies with that error.
      if ((greenlet.#phase as Phase) !== Phase.Done) greenlet.#finish(Outcome.Error, error);
    }
  }

  /** @internal From the hub: kill()'s delivery. */
  static killNow(greenlet: Greenlet<any>, error: unknown): void {
    if (greenlet.#phase !== Phase.Running || greenlet.dead || Fiber.current === greenlet) return;
    try {
      resumeThrow(greenlet, error);
    } catch (failure) {
      handleError(greenlet, failure);
    }
  }

  /** @internal killAll's first pass: kills it now if it never ran. Returns whether it is done. */
  static killBeforeStart(greenlet: Greenlet<any>, error: unknown): boolean {
    return greenlet.#killBeforeStart(error);
  }

  #killBeforeStart(error: unknown): boolean {
    if (this.#phase === Phase.Created || this.#phase === Phase.Scheduled) {
      const start = this.#start;
      this.#start = undefined;
      start?.cancel();
      this.#fn = undefined;
      this.#args = EMPTY;
      if (error instanceof FiberExit) this.#finish(Outcome.Value, error);
      else this.#finish(Outcome.Error, error);
      return true;
    }
    return this.#phase === Phase.Done;
  }

  #finish(outcome: Outcome, result: unknown): void {
    this.#phase = Phase.Done;
    this.#outcome = outcome;
    this.#result = result;
    live.delete(this);
    this.#links?.notify();
    if (outcome === Outcome.Error && this.reportErrors) handleError(this, result);
    releaseLocals(this);
  }

  // join() or get() by the greenlet itself would park it waiting for its own end: forever.
  #notSelf(what: string): void {
    if (Fiber.current === this) {
      throw new FiberError(`a greenlet cannot ${what}() itself: it would wait forever for its own end (greenlet ${JSON.stringify(this.name)})`);
    }
  }

  #linkable(): GreenletLinks {
    return (this.#links ??= new GreenletLinks(this));
  }
}

const EMPTY: unknown[] = [];

function runGreenlet(this: void, greenlet: Greenlet<any>): typeof kParked {
  Greenlet.run(greenlet);
  return kParked; // ended: nothing for a top-level switch to take (src/park.ts)
}

function startGreenlet(greenlet: Greenlet<any>): void {
  Greenlet.startNow(greenlet);
}

function killNow(request: { greenlet: Greenlet<any>; error: unknown; waiter: Waiter<void> | undefined }): void {
  Greenlet.killNow(request.greenlet, request.error);
  request.waiter?.switch(undefined);
}

/**
 * Creates a greenlet running `fn(...args)` and schedules it to start on the next hub turn.
 * `args` are type-checked against `fn`'s parameters. Callable from anywhere; never blocks.
 */
export function spawn<A extends unknown[], T>(fn: (...args: A) => T, ...args: A): Greenlet<T> {
  siteFrom = spawn;
  const greenlet = new Greenlet(fn, ...args);
  greenlet.start();
  return greenlet;
}

/**
 * Like spawn(), but the greenlet starts in `ms` milliseconds: any length (timers are chained past
 * Node's 2**31 - 1 ms), Infinity for never (until killed), a negative delay as 0.
 * @throws TypeError if `ms` is not a number or `fn` not a function; RangeError if `ms` is NaN.
 */
export function spawnLater<A extends unknown[], T>(ms: number, fn: (...args: A) => T, ...args: A): Greenlet<T> {
  checkDelay(ms, 'ms');
  siteFrom = spawnLater;
  const greenlet = new Greenlet(fn, ...args);
  greenlet.startLater(ms);
  return greenlet;
}

/**
 * Waits for the greenlets to finish (gevent.joinall) and returns those that did, in the order they
 * finished. `timeout`: stop waiting after that many ms. `count`: stop after that many finished.
 * `raiseError`: throw the first error a greenlet failed with, as soon as it is seen. Blocks.
 */
export function joinAll<G extends Greenlet<any>>(greenlets: Iterable<G>, options: { timeout?: number | null; raiseError?: boolean; count?: number } = {}): G[] {
  const list = checkGreenlets(greenlets, 'greenlets');
  const read = readOptions(options, 'options', ['timeout', 'raiseError', 'count']);
  const timeout = checkTimeout(read.timeout, 'options.timeout');
  const count = checkCount(read.count, 'options.count', 0, true);
  const raiseError = checkOptionalBoolean(read.raiseError, 'options.raiseError');
  if (!raiseError) return waitAll(list, { timeout, count });
  const done: G[] = [];
  for (const greenlet of iwait(list, { timeout, count })) {
    if (greenlet.ready() && !greenlet.successful()) throw greenlet.exception;
    done.push(greenlet);
  }
  return done;
}

/**
 * Kills every greenlet (gevent.killall) with `error` (a new GreenletExit by default). Greenlets
 * that never ran never will. With `block` (the default) waits until all are dead, or throws a
 * Timeout after `timeout` ms; with `block: false` returns at once.
 */
export function killAll(greenlets: Iterable<Greenlet<any>>, options: { error?: unknown; block?: boolean; timeout?: number | null } = {}): void {
  const list = checkGreenlets(greenlets, 'greenlets');
  const read = readOptions(options, 'options', ['error', 'block', 'timeout']);
  const block = checkOptionalBoolean(read.block, 'options.block');
  const timeout = checkTimeout(read.timeout, 'options.timeout');
  const error = read.error ?? new GreenletExit();
  const pending: Greenlet<any>[] = [];
  for (const greenlet of list) {
    if (!Greenlet.killBeforeStart(greenlet, error)) pending.push(greenlet);
  }
  if (pending.length === 0) return;
  if (block === false) {
    callSoon(killEach, { greenlets: pending, error, waiter: undefined });
    return;
  }
  const waiter = new Waiter<Greenlet<any>[]>();
  callSoon(killEach, { greenlets: pending, error, waiter });
  const timer = Timeout.startNewOrDummy(timeout);
  try {
    const survivors = waiter.get();
    if (survivors.length > 0) joinAll(survivors);
  } finally {
    timer.cancel();
  }
}

function killEach(request: { greenlets: Greenlet<any>[]; error: unknown; waiter: Waiter<Greenlet<any>[]> | undefined }): void {
  const survivors: Greenlet<any>[] = [];
  for (const greenlet of request.greenlets) {
    Greenlet.killNow(greenlet, request.error);
    if (!greenlet.ready()) survivors.push(greenlet);
  }
  request.waiter?.switch(survivors);
}

/**
 * @internal The greenlets of joinAll()/killAll(), as an array: a TypeError naming the argument
 * for a non-iterable, and for any element that is not a Greenlet (naming its index).
 */
export function checkGreenlets<G extends Greenlet<any>>(greenlets: Iterable<G>, name: string): G[] {
  const list = [...(checkIterable(greenlets, name, 'an iterable of Greenlets') as Iterable<G>)];
  for (let i = 0; i < list.length; i++) {
    if (!(list[i] instanceof Greenlet)) throw invalidArgument(`${name}[${i}]`, 'a Greenlet', list[i]);
  }
  return list;
}
