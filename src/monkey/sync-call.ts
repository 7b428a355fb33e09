// The core of every patched `*Sync` function: inside a greenlet, run the asynchronous twin with
// the same arguments and park only that greenlet until its callback; elsewhere, run the original.
import { Fiber } from '../fiber';
import { Waiter } from '../hub';

const mainFiber = Fiber.main;

// Fibers loading a module (inside Module.prototype.load): there the originals run, so that no other
// greenlet can ever see a module that is cached but not fully built. A depth per fiber; see fs.ts
// guardModuleLoading().
const loading = new Map<Fiber, number>();

/** @internal Whether the current code runs in a greenlet that may park for I/O. */
export function inGreenlet(): boolean {
  const current = Fiber.current;
  return current !== mainFiber && (loading.size === 0 || !loading.has(current));
}

/** @internal Marks `fiber` as loading a module (reentrant). */
export function enterLoading(fiber: Fiber): void {
  loading.set(fiber, (loading.get(fiber) ?? 0) + 1);
}

/** @internal Undoes enterLoading(). */
export function leaveLoading(fiber: Fiber): void {
  const depth = loading.get(fiber)! - 1;
  if (depth > 0) loading.set(fiber, depth);
  else loading.delete(fiber);
}

/** How one `*Sync` function maps onto its asynchronous twin. */
export interface TwinSpec {
  /**
   * How many arguments the sync function takes. Extra ones are dropped: the sync function ignores
   * them, and the twin would take the first of them for its callback.
   */
  arity: number;
  /** The sync function's return value from the twin's callback results; default: the first. */
  result?: (results: unknown[], args: unknown[]) => unknown;
  /**
   * Rewrites the arguments for the twin where it reads them differently (readSync's position may be
   * omitted, but fs.read would then take the callback for it).
   */
  twinArgs?: (args: unknown[]) => void;
  /** True when this call must run the original: an argument the twin would treat differently. */
  fallback?: (args: unknown[]) => boolean;
  /**
   * Maps an error of the twin to the sync function's outcome: return `{ value }` for a value the
   * sync function returns instead of throwing (statSync's `throwIfNoEntry: false`).
   */
  recover?: (error: unknown, args: unknown[]) => { value: unknown } | undefined;
  /**
   * On a failure of the twin, call the original once to fail the way it does: for functions whose
   * error text differs between the two in Node itself (opendirSync leaves out the path,
   * mkdtempSync shows its XXXXXX template). Only for calls where a retry changes nothing.
   */
  retrySyncOnError?: boolean;
  /**
   * Gives back what a successful twin created (an fd, a Dir, a directory) when nobody will get it:
   * the call was interrupted (kill(), a Timeout) and the twin finished anyway. Runs on the hub.
   */
  release?: (results: unknown[], args: unknown[]) => void;
  /**
   * Called with the twin's arguments before the call: may rewrite them (add an AbortSignal) and
   * returns what stops the twin early when the call is interrupted.
   */
  abortable?: (args: unknown[]) => (() => void) | undefined;
}

const kOriginal = Symbol.for('greenfiber.monkey.original');

/** @internal The original behind a patched function (itself if not patched). */
export function originalOf<F extends Function>(fn: F): F {
  return ((fn as unknown as Record<symbol, F>)[kOriginal] ?? fn) as F;
}

/**
 * Makes the patched version of `original`: inside a greenlet it calls `twin` (the callback form)
 * with the same arguments and parks the greenlet on a Waiter; anywhere else it is `original`.
 * Errors delivered to the callback are thrown with the caller's stack, as the sync one would be.
 */
export function greenSync(original: Function, twin: Function, spec: TwinSpec): Function {
  const patched = function (this: unknown, ...args: unknown[]): unknown {
    if (!inGreenlet() || (spec.fallback !== undefined && spec.fallback(args))) return Reflect.apply(original, this, args);
    const given = spec.retrySyncOnError ? args.slice() : args; // callTwin appends its callback to args
    if (args.length > spec.arity) args.length = spec.arity;
    if (spec.twinArgs !== undefined) spec.twinArgs(args);
    const outcome = callTwin(this, twin, args, spec);
    if (outcome.ok) return spec.result === undefined ? outcome.results[0] : spec.result(outcome.results, args);
    // Only the twin's own failures get here; an interruption (kill(), a Timeout) propagated above.
    if (spec.recover !== undefined) {
      const recovered = spec.recover(outcome.error, args);
      if (recovered !== undefined) return recovered.value;
    }
    if (spec.retrySyncOnError) return Reflect.apply(original, this, given);
    throw withCallerStack(outcome.error, patched);
  };
  return dress(patched, original);
}

/** Copies the name, length and own properties (realpathSync.native) of `original` onto `patched`. */
export function dress(patched: Function, original: Function): Function {
  Object.defineProperty(patched, 'name', { value: original.name, configurable: true });
  Object.defineProperty(patched, 'length', { value: original.length, configurable: true });
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'name' || key === 'length' || key === 'prototype' || key === 'arguments' || key === 'caller') continue;
    Object.defineProperty(patched, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  Object.defineProperty(patched, kOriginal, { value: original });
  return patched;
}

/** What the twin's callback delivered. */
export type TwinOutcome = { ok: true; results: unknown[] } | { ok: false; error: unknown };

/**
 * Calls `twin(...args, callback)` and parks the current greenlet until the callback; returns its
 * results after the error argument, or the error it delivered. What the twin throws synchronously
 * (argument validation) and what interrupts the park (kill(), a Timeout) propagate as is; on an
 * interruption it stops the twin where `spec.abortable` can, and hands a result that arrives (or
 * had arrived) anyway to `spec.release`.
 */
export function callTwin(self: unknown, twin: Function, args: unknown[], spec: Pick<TwinSpec, 'release' | 'abortable'> = {}): TwinOutcome {
  const waiter = new Waiter<TwinOutcome>();
  const { release } = spec;
  // The results once the twin succeeded, and whether the caller has gone (then they are released).
  let succeeded: unknown[] | undefined;
  let dropped = false;
  const abort = spec.abortable?.(args);
  Reflect.apply(twin, self, [
    ...args,
    (error: unknown, ...results: unknown[]) => {
      if (error !== null && error !== undefined) {
        if (!dropped) waiter.switch({ ok: false, error });
      } else if (dropped) {
        release?.(results, args);
      } else {
        succeeded = results;
        waiter.switch({ ok: true, results });
      }
    },
  ]);
  try {
    return waiter.get();
  } catch (interruption) {
    // The result, if it came before the interruption won, is nobody's now.
    dropped = true;
    if (succeeded !== undefined) release?.(succeeded, args);
    else abort?.();
    throw interruption;
  }
}

/** Replaces the frames of `error`'s stack (keeping its first line(s)) by those of the caller of `from`. */
export function withCallerStack<E>(error: E, from: Function): E {
  if (!(error instanceof Error)) return error;
  const stack = error.stack;
  if (typeof stack !== 'string') return error;
  const at = stack.search(/\n\s+at /);
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, from);
  const frames = holder.stack ?? '';
  const newline = frames.indexOf('\n');
  try {
    error.stack = (at >= 0 ? stack.slice(0, at) : stack) + (newline >= 0 ? frames.slice(newline) : '');
  } catch {
    // a frozen error keeps its stack
  }
  return error;
}
