// Which native backend carries the fibers (GREENFIBER_BACKEND), and the guards the in-thread one needs.
import { binding } from './binding';
import { FiberError } from './errors';
import { wrapOnMain } from './thread-bound';
import { describe } from './validate';

/** `'tcb'`: fibers run on the switching thread itself; `'thread'`: each fiber is an OS thread. */
export type BackendName = 'thread' | 'tcb';

// The in-thread backend is the default wherever it can run (Linux x86-64 with glibc).
const preferred: BackendName = 'tcb';

/**
 * The backend named by GREENFIBER_BACKEND (`thread` or `tcb`), else the default for this platform.
 * @throws FiberError if the variable names no backend, or names `tcb` where it cannot run.
 */
export function chooseBackend(env: NodeJS.ProcessEnv = process.env): BackendName {
  const name = env.GREENFIBER_BACKEND;
  if (name === undefined || name === '') return binding.tcbUnsupported === '' ? preferred : 'thread';
  if (name !== 'thread' && name !== 'tcb') {
    throw new FiberError(`Expected 'thread' or 'tcb' for the environment variable GREENFIBER_BACKEND but received ${describe(name)}`);
  }
  if (name === 'tcb' && binding.tcbUnsupported !== '') {
    throw new FiberError(`GREENFIBER_BACKEND=tcb cannot be used here: ${binding.tcbUnsupported}. Unset it or set it to 'thread'`);
  }
  return name;
}

// glibc carries out a set*id call in a multi-threaded process by signalling every thread listed
// and waiting for each to acknowledge, addressing a thread by its TCB. A fiber of the in-thread
// backend runs on another pthread's TCB, so a set*id call made inside one would wait forever; made
// on the main fiber (the thread's own TCB, every fiber's donor parked on its own) it works.
const setIdCalls = ['setuid', 'setgid', 'seteuid', 'setegid', 'setgroups', 'initgroups'] as const;

/**
 * Makes process.setuid() and its kin run on the main fiber when called inside another fiber (they
 * would hang there under the in-thread backend): `onMain` switches to the main fiber, runs the
 * call and switches straight back, nothing else running in between. Idempotent.
 */
export function guardSetIdCalls(onMain: <T>(fn: () => T) => T): void {
  wrapOnMain(process as unknown as Record<string, unknown>, setIdCalls, onMain);
}
