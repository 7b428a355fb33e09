// The script each ThreadPool worker thread runs: imports the module a call names, calls the
// export with the arguments, posts the result (or the error, flattened) back.
import { parentPort } from 'node:worker_threads';

export interface Task {
  id: number;
  specifier: string;
  exportName: string;
  args: unknown[];
}

export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
}

export type Reply =
  | { id: number; ok: true; value: unknown; buffer: boolean }
  | { id: number; ok: false; error: SerializedError | { thrown: unknown } };

// tsc compiles import() to require() for CommonJS output; this keeps a real dynamic import, which
// loads both ES modules and CommonJS files.
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;
const modules = new Map<string, Promise<Record<string, unknown>>>();

function load(specifier: string): Promise<Record<string, unknown>> {
  let module = modules.get(specifier);
  if (module === undefined) {
    module = importModule(specifier);
    modules.set(specifier, module);
    module.catch(() => modules.delete(specifier));
  }
  return module;
}

function findExport(module: Record<string, unknown>, specifier: string, exportName: string): (...args: unknown[]) => unknown {
  let fn = module[exportName];
  const fallback = module.default as Record<string, unknown> | undefined;
  if (fn === undefined && fallback !== null && (typeof fallback === 'object' || typeof fallback === 'function')) fn = fallback[exportName];
  if (typeof fn !== 'function') {
    throw new TypeError(`${specifier} has no function export named ${JSON.stringify(exportName)} (found ${fn === undefined ? 'nothing' : typeof fn}); ThreadPool.run() calls a function the module exports`);
  }
  return fn as (...args: unknown[]) => unknown;
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function serializeError(error: unknown): SerializedError | { thrown: unknown } {
  if (!(error instanceof Error)) return { thrown: cloneable(error) ? error : String(error) };
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (cloneable(value)) props[key] = value;
  }
  if (error.cause !== undefined && cloneable(error.cause)) props.cause = error.cause;
  return { name: error.name, message: error.message, stack: error.stack, props };
}

// A result that owns its whole buffer moves instead of being copied.
function transferList(value: unknown): ArrayBuffer[] {
  if (value instanceof ArrayBuffer) return [value];
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
    return [value.buffer];
  }
  return [];
}

async function run(task: Task): Promise<void> {
  let reply: Reply;
  try {
    const fn = findExport(await load(task.specifier), task.specifier, task.exportName);
    const value = await fn(...task.args);
    reply = { id: task.id, ok: true, value, buffer: Buffer.isBuffer(value) };
    try {
      parentPort!.postMessage(reply, transferList(value));
      return;
    } catch (error) {
      throw new TypeError(`the result of ${task.exportName}() cannot be sent back from the worker thread (it must be structured-cloneable): ${(error as Error).message}`);
    }
  } catch (error) {
    reply = { id: task.id, ok: false, error: serializeError(error) };
  }
  parentPort!.postMessage(reply);
}

parentPort!.on('message', (task: Task) => {
  void run(task);
});
