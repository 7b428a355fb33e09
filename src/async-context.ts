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

/** A fiber's detached async stack: [asyncId, triggerAsyncId, resource] triples, bottom first. */
export type DetachedStack = readonly unknown[];
const EMPTY: DetachedStack = [];

const fields = isolatesAsyncStack ? asyncWrap!.async_hook_fields : new Uint32Array(8);
const ids = isolatesAsyncStack ? asyncWrap!.async_id_fields : new Float64Array(4);
const resources = isolatesAsyncStack ? asyncWrap!.execution_async_resources : [];
const kStackLength = isolatesAsyncStack ? asyncWrap!.constants.kStackLength : 0;
const kExecutionAsyncId = isolatesAsyncStack ? asyncWrap!.constants.kExecutionAsyncId : 0;
const kTriggerAsyncId = isolatesAsyncStack ? asyncWrap!.constants.kTriggerAsyncId : 1;

// These mirror Node's own pushAsyncContext/popAsyncContext (lib/internal/async_hooks.js): the
// native binding moves the ids, the resources array is kept here, indexed by stack depth.

/** Pops every entry of the async id stack and returns them; the caller is about to switch away. */
export function detach(): DetachedStack {
  let depth = fields[kStackLength];
  if (depth === 0) return EMPTY;
  const saved = new Array<unknown>(depth * 3);
  while (depth > 0) {
    depth -= 1;
    const asyncId = ids[kExecutionAsyncId];
    saved[depth * 3] = asyncId;
    saved[depth * 3 + 1] = ids[kTriggerAsyncId];
    // Entries pushed from JavaScript keep their resource here; native ones only behind the API.
    saved[depth * 3 + 2] = resources[depth] ?? executionAsyncResource();
    asyncWrap!.popAsyncContext(asyncId);
    if (resources.length > depth) resources.length = depth;
  }
  return saved;
}

/** Pushes back what detach() returned; the caller has just resumed. */
export function attach(saved: DetachedStack): void {
  for (let i = 0; i < saved.length; i += 3) {
    resources[fields[kStackLength]] = saved[i + 2];
    asyncWrap!.pushAsyncContext(saved[i] as number, saved[i + 1] as number, saved[i + 2] as object);
  }
}
