// Each fiber owns its slice of Node's async context: the async id stack (executionAsyncId(),
// AsyncResource scopes, async_hooks before/after pairing) is detached when a fiber switches away
// and re-attached when it resumes, so a fiber that yields inside runInAsyncScope never corrupts it.
//
// Node keeps that stack in its internal `async_wrap` binding, which no public API exposes since
// process.binding('async_wrap') went away in Node 24. We reach the same object through the public
// inspector protocol, as the closure variable of async_hooks.executionAsyncId, once at load
// (~3 ms). The continuation data behind AsyncLocalStorage on Node 24+ (AsyncContextFrame) is
// per-isolate in V8 and is saved and restored by the native core at every switch.
import { executionAsyncResource } from 'node:async_hooks';
import * as asyncHooks from 'node:async_hooks';

interface AsyncWrapBinding {
  pushAsyncContext(asyncId: number, triggerAsyncId: number, resource: object): void;
  popAsyncContext(asyncId: number): boolean;
  execution_async_resources: unknown[];
  async_hook_fields: Uint32Array;
  async_id_fields: Float64Array;
  constants: { kStackLength: number; kExecutionAsyncId: number; kTriggerAsyncId: number };
}

function viaInspector(): AsyncWrapBinding | undefined {
  let inspector: typeof import('node:inspector');
  try {
    inspector = require('node:inspector');
  } catch {
    return undefined; // Node built without the inspector
  }
  const session = new inspector.Session();
  const key = `__greenfiber_async_wrap_${process.pid}_${Math.random()}`;
  const globals = globalThis as Record<string, unknown>;
  const post = (method: string, params: object): any => {
    let result: unknown;
    let failure: Error | null = null;
    // In-process sessions answer synchronously, inside post().
    session.post(method, params, (error: Error | null, value: unknown) => {
      failure = error;
      result = value;
    });
    if (failure) throw failure;
    return result;
  };
  try {
    session.connect();
    globals[key] = asyncHooks.executionAsyncId;
    const fn = post('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(key)}]` }).result;
    const internal: any[] = post('Runtime.getProperties', { objectId: fn.objectId, ownProperties: true }).internalProperties ?? [];
    const scopes = internal.find((p) => p.name === '[[Scopes]]');
    if (!scopes?.value?.objectId) return undefined;
    for (const scope of post('Runtime.getProperties', { objectId: scopes.value.objectId, ownProperties: true }).result) {
      if (!scope.value?.objectId) continue;
      const variables: any[] = post('Runtime.getProperties', { objectId: scope.value.objectId, ownProperties: true }).result;
      const found = variables.find((v) => v.name === 'async_wrap');
      if (!found?.value?.objectId) continue;
      post('Runtime.callFunctionOn', {
        objectId: found.value.objectId,
        functionDeclaration: `function () { globalThis[${JSON.stringify(key)}] = this; }`,
      });
      return globals[key] as AsyncWrapBinding;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    delete globals[key];
    try {
      session.disconnect();
    } catch {
      // already disconnected
    }
  }
}

function viaProcessBinding(): AsyncWrapBinding | undefined {
  try {
    return (process as unknown as { binding(name: string): AsyncWrapBinding }).binding('async_wrap');
  } catch {
    return undefined;
  }
}

function usable(candidate: AsyncWrapBinding | undefined): candidate is AsyncWrapBinding {
  return (
    candidate !== undefined &&
    typeof candidate.pushAsyncContext === 'function' &&
    typeof candidate.popAsyncContext === 'function' &&
    candidate.async_hook_fields instanceof Uint32Array &&
    candidate.async_id_fields instanceof Float64Array &&
    Array.isArray(candidate.execution_async_resources) &&
    typeof candidate.constants?.kStackLength === 'number'
  );
}

const found = viaInspector();
const asyncWrap = usable(found) ? found : viaProcessBinding();

/** Whether fibers get their own async id stack on this Node (false only if Node hides it). */
export const isolatesAsyncStack = usable(asyncWrap);

if (!isolatesAsyncStack) {
  process.emitWarning(
    'greenfiber could not reach Node\'s async id stack on this Node.js build: a fiber that switches away inside ' +
      'AsyncResource.runInAsyncScope may corrupt it. Please report this with your Node.js version.',
    { code: 'GF_WARN_ASYNC_STACK' },
  );
}

interface AsyncIdsStack {
  /** The ids each level saved when it was pushed: [executionAsyncId, triggerAsyncId] pairs, bottom first. */
  async_ids_stack?: Float64Array;
  /** The resource of native stack entries (the JS array holds those pushed from JavaScript). */
  executionAsyncResource?(index: number): unknown;
}

/**
 * A fiber's detached async stack: its depth, the ids Node keeps for it (`ids`: the saved pair of
 * each level, bottom first, then the current executionAsyncId and triggerAsyncId) and the
 * resource of each level. Immutable once taken, so one snapshot serves every switch that detaches
 * the same stack.
 */
export class DetachedStack {
  constructor(
    readonly depth: number,
    readonly ids: Float64Array,
    readonly resources: readonly unknown[],
  ) {}
}
const EMPTY = new DetachedStack(0, new Float64Array(2), []);

const fields = isolatesAsyncStack ? asyncWrap!.async_hook_fields : new Uint32Array(8);
const ids = isolatesAsyncStack ? asyncWrap!.async_id_fields : new Float64Array(4);
const resources = isolatesAsyncStack ? asyncWrap!.execution_async_resources : [];
const kStackLength = isolatesAsyncStack ? asyncWrap!.constants.kStackLength : 0;
const kExecutionAsyncId = isolatesAsyncStack ? asyncWrap!.constants.kExecutionAsyncId : 0;
const kTriggerAsyncId = isolatesAsyncStack ? asyncWrap!.constants.kTriggerAsyncId : 1;
const stackOwner = (isolatesAsyncStack ? asyncWrap : {}) as AsyncIdsStack;

// The switch path. Node keeps the async id stack in typed arrays it shares with JavaScript, and its
// own pushAsyncContext/popAsyncContext (lib/internal/async_hooks.js) work on them directly,
// calling into C++ only to grow the stack. So do we: detaching pops every level at once by
// resetting the depth, attaching writes the levels back. Native calls happen only on a snapshot
// cache miss (to read the resource of a level pushed from C++) and when the stack must grow.
//
// The cache: a switch detaches the same stack again and again (a fiber resumed from the same hub
// callback, the top level of a script). Async ids are unique, so a stack whose ids and
// JavaScript-side resources match a recent snapshot *is* that snapshot: reuse it, allocate nothing.
// Two entries cover a ping-pong between two fibers.
const fastPath = isolatesAsyncStack && stackOwner.async_ids_stack instanceof Float64Array && typeof stackOwner.executionAsyncResource === 'function';
let recent: DetachedStack | undefined;
let older: DetachedStack | undefined;

function matches(snapshot: DetachedStack, depth: number, stack: Float64Array): boolean {
  if (snapshot.depth !== depth) return false;
  const saved = snapshot.ids;
  const n = depth * 2;
  if (saved[n] !== ids[kExecutionAsyncId] || saved[n + 1] !== ids[kTriggerAsyncId]) return false;
  for (let i = 0; i < n; i++) if (saved[i] !== stack[i]) return false;
  const own = snapshot.resources;
  for (let i = 0; i < depth; i++) {
    const resource = resources[i];
    if (resource !== undefined && resource !== own[i]) return false;
  }
  return true;
}

function take(depth: number, stack: Float64Array): DetachedStack {
  const n = depth * 2;
  const saved = new Float64Array(n + 2);
  for (let i = 0; i < n; i++) saved[i] = stack[i];
  saved[n] = ids[kExecutionAsyncId];
  saved[n + 1] = ids[kTriggerAsyncId];
  const levels = new Array<unknown>(depth);
  for (let i = 0; i < depth; i++) levels[i] = resources[i] ?? stackOwner.executionAsyncResource!(i);
  return new DetachedStack(depth, saved, levels);
}

/** Pops every entry of the async id stack and returns them; the caller is about to switch away. */
export function detach(): DetachedStack {
  const depth = fields[kStackLength];
  if (depth === 0) return EMPTY;
  if (!fastPath) return detachSlow(depth);
  const stack = stackOwner.async_ids_stack!; // read each time: Node replaces it when it grows
  let snapshot: DetachedStack;
  if (recent !== undefined && matches(recent, depth, stack)) {
    snapshot = recent;
  } else if (older !== undefined && matches(older, depth, stack)) {
    snapshot = older;
    older = recent;
    recent = snapshot;
  } else {
    snapshot = take(depth, stack);
    older = recent;
    recent = snapshot;
  }
  // What popping every level leaves: the ids saved by the bottom level, an empty stack.
  ids[kExecutionAsyncId] = stack[0];
  ids[kTriggerAsyncId] = stack[1];
  fields[kStackLength] = 0;
  // pop(), not `length = 0`: the length setter is a runtime call and may shrink the backing
  // store, which attach() would then grow again, on every switch.
  while (resources.length > 0) resources.pop();
  return snapshot;
}

/** Pushes back what detach() returned; the caller has just resumed. */
export function attach(saved: DetachedStack): void {
  const depth = saved.depth;
  if (depth === 0) return;
  const stack = stackOwner.async_ids_stack;
  const n = depth * 2;
  if (!fastPath || fields[kStackLength] !== 0 || stack!.length < n) {
    attachSlow(saved);
    return;
  }
  const from = saved.ids;
  for (let i = 0; i < n; i++) stack![i] = from[i];
  ids[kExecutionAsyncId] = from[n];
  ids[kTriggerAsyncId] = from[n + 1];
  const levels = saved.resources;
  for (let i = 0; i < depth; i++) resources[i] = levels[i];
  fields[kStackLength] = depth;
}

// The general path, one level at a time through Node's own push/pop (also where the stack must grow).

function detachSlow(depth: number): DetachedStack {
  const saved = new Float64Array(depth * 2 + 2);
  const levels = new Array<unknown>(depth);
  saved[depth * 2] = ids[kExecutionAsyncId];
  saved[depth * 2 + 1] = ids[kTriggerAsyncId];
  while (depth > 0) {
    depth -= 1;
    const asyncId = ids[kExecutionAsyncId];
    // Entries pushed from JavaScript keep their resource here; native ones only behind the API.
    levels[depth] = resources[depth] ?? executionAsyncResource();
    asyncWrap!.popAsyncContext(asyncId);
    if (resources.length > depth) resources.length = depth;
    saved[depth * 2] = ids[kExecutionAsyncId];
    saved[depth * 2 + 1] = ids[kTriggerAsyncId];
  }
  return new DetachedStack(levels.length, saved, levels);
}

function attachSlow(saved: DetachedStack): void {
  const from = saved.ids;
  if (fields[kStackLength] === 0) {
    ids[kExecutionAsyncId] = from[0];
    ids[kTriggerAsyncId] = from[1];
  }
  for (let i = 0; i < saved.depth; i++) {
    resources[fields[kStackLength]] = saved.resources[i];
    asyncWrap!.pushAsyncContext(from[i * 2 + 2], from[i * 2 + 3], saved.resources[i] as object);
  }
}

/** The current async id stack, left in place: for restore() after code that may have corrupted it. */
export function snapshot(): DetachedStack {
  const saved = detach();
  attach(saved);
  return saved;
}

/**
 * Puts the async id stack back to `saved` (from snapshot()) unless it is already there: after a
 * loop callback that threw left its levels pushed, or Node's uncaught-exception handler emptied it.
 */
export function restore(saved: DetachedStack): void {
  if (!isolatesAsyncStack) return;
  const n = saved.depth * 2;
  if (fields[kStackLength] === saved.depth && ids[kExecutionAsyncId] === saved.ids[n] && ids[kTriggerAsyncId] === saved.ids[n + 1]) return;
  detach();
  attach(saved);
}
