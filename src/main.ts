// main(fn): runs a program as the main greenlet, for ESM, TypeScript and async code.
import { Greenlet } from './greenlet';
import { checkFunction } from './validate';

/**
 * Runs `fn()` in a greenlet named "main" (started on the next hub turn) and returns a promise of
 * its result, so blocking-style code can start from ESM, async code or a loop callback. If `fn`
 * throws, the promise rejects with the error and `process.exitCode` is set to 1 (the error is not
 * also reported on stderr: left unhandled, the rejection is). Never blocks.
 *
 * ```ts
 * await main(() => { const [a, b] = [spawn(f), spawn(g)]; joinAll([a, b]); });
 * ```
 */
export function main<T>(fn: () => T): Promise<T> {
  checkFunction(fn, 'fn');
  const greenlet = new Greenlet(fn);
  greenlet.name = 'main';
  greenlet.reportErrors = false;
  const promise = greenlet.promise();
  promise.then(undefined, () => {
    process.exitCode = 1;
  });
  greenlet.start();
  return promise;
}
