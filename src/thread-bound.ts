// Node APIs that keep per-thread state in C++ `thread_local` variables, run on the main fiber when
// called inside a fiber. Every fiber has a thread identity of its own (its own OS thread, or a
// donor thread's TCB under the tcb backend), so such state would be made again per fiber.
//
// Node 24 keeps the default root certificate store, the certificates set by
// tls.setDefaultCACertificates() and a "cleanup hook registered" flag per thread
// (src/crypto/crypto_context.cc: GetOrCreateRootCertStore() adds CleanupRootCertStore to the
// Environment's cleanup queue once per thread). The second thread of one Environment to make a
// secure context that loads CA certificates (tls.connect, https, fetch, undici, tls.createServer)
// adds the same hook again, and Node aborts: `Assertion failed: (insertion_info.second) == (true)`
// in node::CleanupQueue::Add. Node 22 keeps the store per thread too (no hook, so no abort, but
// every fiber loaded a store of its own and missed setDefaultCACertificates() made elsewhere);
// Node 20 keeps it per process, Node 26 per Environment. The guard runs on every major (one switch
// to the main fiber and back per call).
// node:tls is loaded here only when needed (loading it costs 5-30 ms): see guardThreadBoundCalls().

/** The tls functions that reach the per-thread root certificate state. */
export const threadBoundTlsCalls = ['createSecureContext', 'setDefaultCACertificates', 'getCACertificates'] as const;

/** @internal Whether node:tls is loaded already (then guarding it costs nothing). */
export function tlsLoaded(): boolean {
  const list = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList;
  return list === undefined || list.includes('NativeModule tls');
}

/**
 * @internal Replaces each function `names` names on `target` by one that runs it through `onMain`
 * (which runs a function on the main fiber), with the same name, length, `this` and arguments.
 * Idempotent: a function wrapped already is left as it is.
 */
export function wrapOnMain(target: Record<string, unknown>, names: readonly string[], onMain: <T>(fn: () => T) => T): void {
  for (const name of names) {
    const original = target[name];
    if (typeof original !== 'function' || (original as { greenfiberOnMain?: boolean }).greenfiberOnMain) continue;
    const guarded = function (this: unknown, ...args: unknown[]): unknown {
      return onMain(() => (original as (...a: unknown[]) => unknown).apply(this, args));
    };
    Object.defineProperty(guarded, 'name', { value: name });
    Object.defineProperty(guarded, 'length', { value: (original as (...a: unknown[]) => unknown).length });
    Object.defineProperty(guarded, 'greenfiberOnMain', { value: true });
    target[name] = guarded;
  }
}

/**
 * @internal Wraps the functions in threadBoundTlsCalls so that they run through `onMain`. Node's own
 * callers (tls.connect, tls.Server, https, http2, undici's connector) look `tls.createSecureContext`
 * up on the module at each call, so they go through the wrapper. Idempotent.
 */
export function guardThreadBoundCalls(onMain: <T>(fn: () => T) => T): void {
  wrapOnMain(require('node:tls') as Record<string, unknown>, threadBoundTlsCalls, onMain);
}
