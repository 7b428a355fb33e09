// patchFs(): every `*Sync` function of `fs` with an asynchronous twin parks only the calling
// greenlet (gevent has no fs patch; this is its threadpool idea applied to Node's own).
import fs = require('node:fs');
import Module from 'node:module';
import { Fiber } from '../fiber';
import { patchOnce, type Patcher } from './state';
import { enterLoading, greenSync, leaveLoading, type TwinSpec } from './sync-call';

const mainFiber = Fiber.main;

function optionsOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

// An AbortSignal is honoured by readFile/writeFile/appendFile but ignored by their sync versions.
const hasSignal = (index: number) => (args: unknown[]): boolean => optionsOf(args[index])?.signal !== undefined;

// statSync/lstatSync(path, { throwIfNoEntry: false }) return undefined for a missing entry. Which
// other errors they swallow differs by version (Node 22 also ENOTDIR), and Node 26's readFileSync
// reports EISDIR without the path its twin gives: those re-run the original on failure
// (retrySyncOnError), which fails fast and exactly as it would.
function noEntry(error: unknown, args: unknown[]): { value: unknown } | undefined {
  if (optionsOf(args[1])?.throwIfNoEntry === false && (error as NodeJS.ErrnoException)?.code === 'ENOENT') return { value: undefined };
  return undefined;
}

const ignore = (): void => {};

// A number that fs would reject as an fd (getValidatedFd: an integer 0..2**31-1). The sync
// original rejects it synchronously; some twins reject it only later, outside their callback
// (readFile throws ERR_OUT_OF_RANGE from a nextTick), where the caller's try/catch never sees it and
// the greenlet would stay parked. Such calls run the original, which fails at once and exactly.
const badFdAt = (index: number) => (args: unknown[]): boolean => {
  const fd = args[index];
  return typeof fd === 'number' && !(Number.isInteger(fd) && fd >= 0 && fd <= 2 ** 31 - 1);
};
const either = (a: (args: unknown[]) => boolean, b: (args: unknown[]) => boolean) => (args: unknown[]): boolean => a(args) || b(args);
const badFd = badFdAt(0);

// What an interrupted call gives back when its twin completes anyway (README "Interrupted calls").
const closeFd = ([fd]: unknown[]): void => fs.close(fd as number, ignore);
const closeDir = ([dir]: unknown[]): void => (dir as fs.Dir).close(ignore);
// Nobody learns the name of the directory an interrupted mkdtempSync made: it is removed.
const removeTempDir = ([path]: unknown[]): void => fs.rmdir(path as fs.PathLike, ignore);

// readFile() stops reading (and closes the file it opened) when its `signal` aborts: the twin gets
// one. Options of another type are left as they are (the twin rejects them as the original does).
function abortRead(args: unknown[]): (() => void) | undefined {
  const options = args[1];
  if (options !== undefined && options !== null && typeof options !== 'string' && (typeof options !== 'object' || Array.isArray(options))) return undefined;
  const controller = new AbortController();
  args[1] = { ...(typeof options === 'string' ? { encoding: options } : (options as object | null | undefined)), signal: controller.signal };
  return () => controller.abort();
}

/** Each patched function: its twin is `fs[name without Sync]`, taking the same arguments. */
export const fsFunctions: Record<string, TwinSpec> = {
  accessSync: { arity: 2 },
  appendFileSync: { arity: 3, fallback: either(badFd, hasSignal(2)) },
  chmodSync: { arity: 2 },
  chownSync: { arity: 3 },
  closeSync: { arity: 1, fallback: badFd },
  copyFileSync: { arity: 3 },
  fchmodSync: { arity: 2, fallback: badFd },
  fchownSync: { arity: 3, fallback: badFd },
  fdatasyncSync: { arity: 1, fallback: badFd },
  fstatSync: { arity: 2, fallback: badFd },
  fsyncSync: { arity: 1, fallback: badFd },
  ftruncateSync: { arity: 2, fallback: badFd },
  futimesSync: { arity: 3, fallback: badFd },
  lchmodSync: { arity: 2 },
  lchownSync: { arity: 3 },
  linkSync: { arity: 2 },
  lstatSync: { arity: 2, recover: noEntry, retrySyncOnError: true },
  lutimesSync: { arity: 3 },
  mkdirSync: { arity: 2 },
  mkdtempSync: { arity: 2, retrySyncOnError: true, release: removeTempDir },
  opendirSync: { arity: 2, retrySyncOnError: true, release: closeDir },
  openSync: { arity: 3, release: closeFd },
  readdirSync: { arity: 2 },
  readFileSync: { arity: 2, fallback: either(badFd, hasSignal(1)), retrySyncOnError: true, abortable: abortRead },
  readlinkSync: { arity: 2 },
  // readSync(fd, buffer, offset, length): position omitted. fs.read with five arguments would take
  // the callback for the position, so it gets null (read from the current position) instead.
  readSync: { arity: 5, fallback: badFd, twinArgs: (args) => args.length === 4 && typeof args[2] === 'number' && args.push(null) },
  readvSync: { arity: 3, fallback: badFd },
  realpathSync: { arity: 2 },
  renameSync: { arity: 2 },
  rmdirSync: { arity: 2 },
  rmSync: { arity: 2 },
  statSync: { arity: 2, recover: noEntry, retrySyncOnError: true },
  statfsSync: { arity: 2 },
  symlinkSync: { arity: 3 },
  truncateSync: { arity: 2 },
  unlinkSync: { arity: 1 },
  utimesSync: { arity: 3 },
  writeFileSync: { arity: 3, fallback: either(badFd, hasSignal(2)) },
  writeSync: { arity: 5, fallback: badFd },
  writevSync: { arity: 3, fallback: badFd },
};

/** The functions left alone, and why (the README lists them). */
export const fsLeftAlone = {
  cpSync: 'its sync and async implementations are separate in Node and differ in their errors (EISDIR errno 22 vs 21 on Node 20)',
  globSync: 'experimental; its twin fs.glob differs in option handling across Node versions',
  watch: 'not a blocking call',
};

function existsTwin(...args: unknown[]): void {
  const callback = args.pop() as (error: null, exists: boolean) => void;
  const path = args[0];
  try {
    fs.access(path as fs.PathLike, fs.constants.F_OK, (error) => callback(null, !error));
  } catch {
    // existsSync returns false for arguments access() rejects
    callback(null, false);
  }
}

/**
 * Loading a module (reading its source and running its body) uses the original functions: a
 * greenlet that parked there would leave the module cached but half-built, and another greenlet
 * requiring it meanwhile would get its incomplete exports (Node has no import lock to make it
 * wait, as Python has). The main module (a script's top level) is the exception: it still parks.
 */
function guardModuleLoading(patch: Patcher): void {
  const proto = Module.prototype as unknown as { load: Function };
  const load = proto.load;
  patch(proto, 'load', function load_(this: { id?: string }, ...args: unknown[]): unknown {
    const fiber = Fiber.current;
    if (fiber === mainFiber || this.id === '.') return Reflect.apply(load, this, args);
    enterLoading(fiber);
    try {
      return Reflect.apply(load, this, args);
    } finally {
      leaveLoading(fiber);
    }
  });
}

/**
 * Patches `fs` in place: inside a greenlet, each `*Sync` function listed in `fsFunctions` (and
 * `existsSync`) runs its asynchronous twin and parks only that greenlet; results, errors and
 * options are those of the original. Outside greenlets the originals run. Idempotent.
 */
export function patchFs(): void {
  patchOnce('fs', (patch) => {
    const module = fs as unknown as Record<string, Function>;
    for (const [name, spec] of Object.entries(fsFunctions)) {
      const original = module[name];
      const twin = module[name.slice(0, -'Sync'.length)];
      if (typeof original !== 'function' || typeof twin !== 'function') continue;
      const patched = greenSync(original, twin, spec);
      const originalNative = (original as Function & { native?: Function }).native;
      const twinNative = (twin as Function & { native?: Function }).native;
      if (typeof originalNative === 'function' && typeof twinNative === 'function') {
        const native = greenSync(originalNative, twinNative, spec);
        Object.defineProperty(patched, 'native', { value: native, writable: true, configurable: true, enumerable: true });
      }
      patch(module, name, patched);
    }
    patch(module, 'existsSync', greenSync(module.existsSync, existsTwin, { arity: 1 }));
    guardModuleLoading(patch);
  });
}
