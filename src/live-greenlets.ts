// The registry of live greenlets (scheduled, running or parked), in spawn order: what runInfo()
// reports and waitAll() without arguments waits for.
import type { Greenlet } from './greenlet';

/** @internal Greenlets add themselves on start and remove themselves when they finish. */
export const live = new Set<Greenlet<any>>();

/** @internal The live greenlets (scheduled, running or parked). */
export function liveGreenlets(): Greenlet<any>[] {
  return [...live];
}
