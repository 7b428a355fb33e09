// patchChildProcess(): spawnSync, execSync and execFileSync run the child with the asynchronous
// spawn() inside a greenlet and park only that greenlet, returning and throwing what the sync
// functions would (the SpawnSyncReturns shape, ETIMEDOUT/ENOBUFS errors, execSync's error).
import childProcess = require('node:child_process');
import { constants } from 'node:os';
import fs = require('node:fs');
import { getSystemErrorName } from 'node:util';
import { Waiter } from '../hub';
import { setLongTimeout, type LongTimer } from '../long-timer';
import { patchOnce } from './state';
import { dress, inGreenlet, originalOf, withCallerStack } from './sync-call';

// spawnSync's default maxBuffer (lib/child_process.js MAX_BUFFER).
const MAX_BUFFER = 1024 * 1024;

interface SyncOptions {
  input?: unknown;
  stdio?: unknown;
  encoding?: BufferEncoding | 'buffer' | null;
  maxBuffer?: number;
  timeout?: number;
  killSignal?: NodeJS.Signals | number;
  [key: string]: unknown;
}

interface SpawnSyncResult {
  error?: Error;
  status: number | null;
  signal: NodeJS.Signals | null;
  output: Array<Buffer | string | null> | null;
  pid: number;
  stdout: Buffer | string | null;
  stderr: Buffer | string | null;
}

/** spawnSync's way of finding the options among (file, args, options); undefined: leave it to the original. */
function optionsAmong(args: unknown, options: unknown): SyncOptions | undefined {
  const found = Array.isArray(args) || args === null || args === undefined ? options : typeof args === 'object' ? args : undefined;
  if (found === undefined) return {};
  if (typeof found !== 'object' || found === null || Array.isArray(found)) return undefined;
  return found as SyncOptions;
}

type StdioName = 'pipe' | 'overlapped' | 'ignore' | 'inherit';

/**
 * Which of fds 0..2 are pipes, for the stdio forms we reproduce (names, fds, null); undefined
 * for any other form (streams, extra fds), left to the original.
 */
function pipesOf(stdio: unknown): boolean[] | undefined {
  const names = ['pipe', 'overlapped', 'ignore', 'inherit'];
  if (stdio === undefined || stdio === null) return [true, true, true];
  if (typeof stdio === 'string') return names.includes(stdio) ? Array(3).fill(stdio === 'pipe' || stdio === 'overlapped') : undefined;
  if (!Array.isArray(stdio) || stdio.length > 3) return undefined;
  const pipes: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const entry: unknown = stdio[i];
    if (entry === undefined || entry === null) pipes.push(true);
    else if (typeof entry === 'string' && names.includes(entry)) pipes.push((entry as StdioName) === 'pipe' || entry === 'overlapped');
    else if (typeof entry === 'number' && Number.isInteger(entry) && entry >= 0) pipes.push(false);
    else return undefined;
  }
  return pipes;
}

/** Whether we reproduce this call exactly; otherwise the original runs (and validates). */
function reproducible(options: SyncOptions | undefined): options is SyncOptions {
  if (options === undefined) return false;
  const pipes = pipesOf(options.stdio);
  if (pipes === undefined) return false;
  const { input, maxBuffer } = options;
  if (input !== undefined && input !== null && input !== '') {
    if (typeof input !== 'string' && !ArrayBuffer.isView(input)) return false;
    if (!pipes[0]) return false;
  }
  if (maxBuffer !== undefined && maxBuffer !== null && !(typeof maxBuffer === 'number' && maxBuffer >= 0)) return false;
  const { timeout } = options;
  if (timeout !== undefined && timeout !== null && !(Number.isInteger(timeout) && (timeout as number) >= 0)) return false;
  return true;
}

/** The error spawnSync puts in `result.error` (lib/child_process.js spawnSync + errnoException). */
function spawnSyncError(errno: number, file: string, args: readonly string[]): Error {
  const code = getSystemErrorName(errno);
  const error = new Error(`spawnSync ${file} ${code}`) as NodeJS.ErrnoException & { spawnargs: string[] };
  error.errno = errno;
  error.code = code;
  error.syscall = `spawnSync ${file}`;
  error.path = file;
  error.spawnargs = args.slice(1);
  return error;
}

/**
 * spawnSync(file, args, options) done with spawn(): the result spawnSync would return. As in
 * Node's SyncProcessRunner (src/spawn_sync.cc): the call ends when the child has exited and every
 * pipe is closed; `timeout` and `maxBuffer` kill the child with `killSignal` and destroy the pipes
 * at once (a grandchild holding a pipe does not hold the call), and the call then ends when the
 * child has exited. Interrupted (kill(), a Timeout), it does the same without waiting: the child
 * is killed and its pipes destroyed before the interruption propagates, and Node reaps it.
 */
function greenSpawnSync(file: unknown, args: unknown, options: SyncOptions, from: Function): SpawnSyncResult {
  const pipes = pipesOf(options.stdio)!;
  const maxBuffer = options.maxBuffer ?? MAX_BUFFER;
  // spawnSync encodes a string input with options.encoding (and throws as Buffer.from does).
  const input = options.input;
  const inputBytes = input === undefined || input === null || input === '' ? undefined : typeof input === 'string' ? Buffer.from(input, options.encoding as BufferEncoding) : (input as Uint8Array);
  // spawn() validates every option as spawnSync does. The timeout is ours (spawn's own would not
  // close the pipes), and spawnSync ignores `signal`, which spawn() would honour.
  const child = Reflect.apply(spawnOriginal, childProcess, [file, args, { ...options, timeout: undefined, signal: undefined }]) as childProcess.ChildProcess;
  const spawnfile = child.spawnfile;
  const spawnargs = child.spawnargs;
  const streams = [child.stdin, child.stdout, child.stderr].filter((stream) => stream !== null);
  const waiter = new Waiter<void>();
  const chunks: Buffer[][] = [[], [], []];
  let errno = 0;
  let buffered = 0;
  let status: number | null = null;
  let signal: NodeJS.Signals | null = null;
  let started = true;
  let exited = false;
  let killed = false;
  let finished = false;
  let openPipes = streams.length;
  const killSignal = options.killSignal ?? 'SIGTERM';
  const fail = (code: number): void => {
    if (errno === 0) errno = code;
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    waiter.switch(undefined);
  };
  // SyncProcessRunner::Kill(): signal the child once (unless it has exited), close every pipe.
  const kill = (): void => {
    if (killed) return;
    killed = true;
    if (!exited && started) {
      try {
        child.kill(killSignal);
      } catch (error) {
        fail(typeof (error as NodeJS.ErrnoException).errno === 'number' ? ((error as NodeJS.ErrnoException).errno as number) : -constants.errno.EINVAL);
        child.kill('SIGKILL');
      }
    }
    for (const stream of streams) stream.destroy();
    if (exited) finish();
  };
  child.on('error', (error: NodeJS.ErrnoException) => {
    // spawn() reports a failure to start (ENOENT, EACCES, ...) here; kill() failures too.
    if (child.pid === undefined) started = false;
    fail(typeof error.errno === 'number' ? error.errno : -constants.errno.EINVAL);
    if (!started) {
      exited = true;
      for (const stream of streams) stream.destroy();
      finish();
    }
  });
  if (child.pid !== undefined) track(child, killSignal);
  child.on('exit', (code: number | null, killedBy: NodeJS.Signals | null) => {
    untrack(child);
    status = code;
    signal = killedBy;
    exited = true;
    if (killed || openPipes === 0) finish();
  });
  for (const stream of streams) {
    stream.on('close', () => {
      if (--openPipes === 0 && exited) finish();
    });
  }
  for (const fd of [1, 2]) {
    const stream = fd === 1 ? child.stdout : child.stderr;
    if (stream === null) continue;
    stream.on('data', (chunk: Buffer) => {
      if (killed) return;
      chunks[fd].push(chunk);
      buffered += chunk.length;
      if (maxBuffer > 0 && buffered > maxBuffer) {
        fail(-constants.errno.ENOBUFS);
        kill();
      }
    });
  }
  if (child.stdin !== null) {
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (!killed && typeof error.errno === 'number') fail(error.errno);
    });
    if (inputBytes !== undefined) child.stdin.end(inputBytes);
    else child.stdin.end();
  }
  let timer: LongTimer | undefined;
  if (typeof options.timeout === 'number' && options.timeout > 0) {
    // Ours, not spawn()'s (which would not close the pipes); past Node's longest timer
    // (2**31 - 1 ms) it is chained, as spawnSync honours it (libuv's timers are 64-bit).
    timer = setLongTimeout(() => {
      if (finished) return;
      fail(-constants.errno.ETIMEDOUT);
      kill();
    }, options.timeout, undefined);
  }
  try {
    waiter.get();
  } finally {
    timer?.cancel();
    // Interrupted (a kill, a Timeout): the child does not outlive the call, as with spawnSync,
    // nor do its descendants (execSync's shell runs the command as a grandchild).
    if (!finished) {
      const descendants = exited || !started || child.pid === undefined ? [] : descendantsOf(child.pid);
      kill();
      for (const pid of descendants) signalPid(pid, killSignal);
    }
  }
  let result: SpawnSyncResult;
  if (!started) {
    result = { error: undefined, status: null, signal: null, output: null, pid: 0, stdout: unstartedStdio, stderr: unstartedStdio };
  } else {
    const output: Array<Buffer | string | null> = [null, pipes[1] ? Buffer.concat(chunks[1]) : null, pipes[2] ? Buffer.concat(chunks[2]) : null];
    const encoding = options.encoding;
    if (encoding && encoding !== 'buffer') {
      for (let i = 0; i < output.length; i++) if (output[i] !== null) output[i] = (output[i] as Buffer).toString(encoding);
    }
    result = { error: undefined, status, signal, output, pid: child.pid ?? 0, stdout: output[1], stderr: output[2] };
  }
  if (errno !== 0) result.error = withCallerStack(spawnSyncError(errno, spawnfile, spawnargs), from);
  else delete result.error;
  return result;
}

// A child that never started has no output: Node 20 reports its stdout and stderr as null
// (`output && output[1]`), Node 22 and later as undefined (`output?.[1]`).
const unstartedStdio = (Number(process.versions.node.split('.')[0]) >= 22 ? undefined : null) as null;

// lib/child_process.js checkExecSyncError.
function checkExecSyncError(ret: SpawnSyncResult, args: readonly string[] | undefined, command?: string): Error | undefined {
  if (ret.error) return Object.assign(ret.error, ret);
  if (ret.status !== 0) {
    let message = `Command failed: ${command || args!.join(' ')}`;
    if (ret.stderr && ret.stderr.length > 0) message += `\n${ret.stderr.toString()}`;
    return Object.assign(new Error(message), ret);
  }
  return undefined;
}

let spawnOriginal: Function;

// Children of calls in flight, with their killSignal. The process can end while a greenlet waits
// for one (another greenlet calls process.exit(), or a signal ends it), which the original,
// blocking the whole process, never allows: then they and their descendants (execSync's shell
// does not exec its command: `sleep 100` is a grandchild) get their killSignal, so that none
// outlives its call. A terminating signal (SIGINT, SIGTERM, SIGHUP) runs no 'exit' listeners: while
// calls are in flight and nobody else listens for it, a listener of ours kills them and re-raises it,
// so the process still dies of that signal.
const running = new Map<childProcess.ChildProcess, NodeJS.Signals | number>();
let exitHooked = false;
const terminating = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The pids of the descendants of `pid`, deepest last (Linux /proc; elsewhere none). */
function descendantsOf(pid: number, into: number[] = []): number[] {
  let tasks: string[];
  try {
    tasks = originalOf(fs.readdirSync)(`/proc/${pid}/task`);
  } catch {
    return into;
  }
  for (const task of tasks) {
    let children: string;
    try {
      children = originalOf(fs.readFileSync)(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    for (const child of children.split(' ')) {
      if (child === '') continue;
      into.push(Number(child));
      descendantsOf(Number(child), into);
    }
  }
  return into;
}

/** Sends `signal` to `child` and to its descendants (collected first: once it dies they are reparented). */
function killTree(child: childProcess.ChildProcess, signal: NodeJS.Signals | number): void {
  const descendants = child.pid === undefined ? [] : descendantsOf(child.pid);
  try {
    child.kill(signal);
  } catch {
    // an invalid killSignal was reported by the call itself
  }
  for (const pid of descendants) signalPid(pid, signal);
}

function signalPid(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already, or an invalid signal (the call reported it)
  }
}

function killRunning(): void {
  for (const [child, signal] of running) killTree(child, signal);
  running.clear();
}

function onTerminatingSignal(signal: NodeJS.Signals): void {
  // Someone else handles it (and may exit, which the 'exit' hook covers): leave it to them.
  if (process.listenerCount(signal) > 1) return;
  killRunning();
  unhookSignals();
  process.kill(process.pid, signal);
}

function hookSignals(): void {
  for (const signal of terminating) process.on(signal, onTerminatingSignal);
}

function unhookSignals(): void {
  for (const signal of terminating) process.removeListener(signal, onTerminatingSignal);
}

function track(child: childProcess.ChildProcess, killSignal: NodeJS.Signals | number): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', killRunning);
  }
  if (running.size === 0) hookSignals();
  running.set(child, killSignal);
}

function untrack(child: childProcess.ChildProcess): void {
  if (running.delete(child) && running.size === 0) unhookSignals();
}

/**
 * Patches `child_process` in place: inside a greenlet, `spawnSync`, `execSync` and `execFileSync`
 * run the child with `spawn()` and park only that greenlet. The forms not reproduced exactly
 * (stdio streams or more than three fds) run the original. Idempotent.
 */
export function patchChildProcess(): void {
  patchOnce('child_process', (patch) => {
    const module = childProcess as unknown as Record<string, Function>;
    spawnOriginal = module.spawn;
    const spawnSync = module.spawnSync;
    const execSync = module.execSync;
    const execFileSync = module.execFileSync;

    const greenSpawn = dress(function spawnSync_(this: unknown, file: unknown, args?: unknown, options?: unknown): unknown {
      const found = optionsAmong(args, options);
      if (!inGreenlet() || !reproducible(found)) return Reflect.apply(spawnSync, this, arguments);
      return greenSpawnSync(file, args, found, greenSpawn);
    }, spawnSync);

    const greenExec = dress(function execSync_(this: unknown, command: unknown, options?: unknown): unknown {
      if (!inGreenlet() || typeof command !== 'string' || command.includes('\u0000') || !reproducible(optionsAmong(undefined, options))) {
        return Reflect.apply(execSync, this, arguments);
      }
      // lib/child_process.js normalizeExecArgs + execSync.
      const opts: SyncOptions = { ...(options as SyncOptions | undefined) };
      opts.shell = typeof opts.shell === 'string' ? opts.shell : true;
      const inheritStderr = !opts.stdio;
      const ret = greenSpawnSync(command, undefined, opts, greenExec);
      if (inheritStderr && ret.stderr) process.stderr.write(ret.stderr);
      const error = checkExecSyncError(ret, undefined, command);
      if (error) throw error;
      return ret.stdout;
    }, execSync);

    const greenExecFile = dress(function execFileSync_(this: unknown, file: unknown, args?: unknown, options?: unknown): unknown {
      if (!inGreenlet()) return Reflect.apply(execFileSync, this, arguments);
      // lib/child_process.js normalizeExecFileArgs: only the plain shapes; the rest to the original.
      let list: string[];
      let opts: unknown = options;
      if (Array.isArray(args)) list = args.slice();
      else if (args === null || args === undefined) list = [];
      else if (typeof args === 'object') {
        opts = args;
        list = [];
      } else return Reflect.apply(execFileSync, this, arguments);
      if (opts === null || opts === undefined) opts = {};
      const found = optionsAmong(undefined, opts);
      if (!reproducible(found) || (found.argv0 !== undefined && found.argv0 !== null && typeof found.argv0 !== 'string')) {
        return Reflect.apply(execFileSync, this, arguments);
      }
      const inheritStderr = !found.stdio;
      const ret = greenSpawnSync(file, list, found, greenExecFile);
      if (inheritStderr && ret.stderr) process.stderr.write(ret.stderr);
      const error = checkExecSyncError(ret, [(found.argv0 as string) || (file as string), ...list]);
      if (error) throw error;
      return ret.stdout;
    }, execFileSync);

    patch(module, 'spawnSync', greenSpawn);
    patch(module, 'execSync', greenExec);
    patch(module, 'execFileSync', greenExecFile);
  });
}
