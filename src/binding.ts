// The only loader of the native addon. Explains every way loading can fail, with the fix.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NativeLoadError } from './errors';

/** The native fiber core (native/binding.cc). Handles are opaque; every call returns a status, never throws. */
export interface NativeBinding {
  FiberHandle: new (adopt?: unknown) => object;
  setup(
    entry: () => object | undefined,
    orphan: (handle: object) => void,
    options: { spinNs: number; pin: boolean; backend: 'thread' | 'tcb' },
  ): object;
  transfer(handle: object): number;
  state(handle: object): number;
  current(): object;
  stats(): {
    backend: 'thread' | 'tcb';
    threads: number;
    idle: number;
    started: number;
    orphans: number;
    switches: number;
    hotWakes: number;
    coldWakes: number;
  };
  runLoopOnce(): boolean;
  loopAlive(): boolean;
  abiVersion: number;
  /** Why the in-thread backend cannot run in this process, or '' where it can. */
  tcbUnsupported: string;
}

const packageRoot = path.resolve(__dirname, '..');

function candidates(): string[] {
  return [
    // Built by `npm run test:node -- <major>` for another Node major, kept beside the default build.
    path.join(packageRoot, 'build', `abi-${process.versions.modules}`, 'greenfiber.node'),
    path.join(packageRoot, 'build', 'Release', 'greenfiber.node'),
    path.join(packageRoot, 'build', 'Debug', 'greenfiber.node'),
  ];
}

function load(): NativeBinding {
  if (process.platform !== 'linux') {
    throw new NativeLoadError(
      `greenfiber supports Linux only for now (this is ${process.platform}): its fibers are OS threads handing the V8 lock over, built and tested on Linux`,
    );
  }
  const found = candidates().find((file) => fs.existsSync(file));
  if (found === undefined) {
    throw new NativeLoadError(
      `greenfiber's native addon is not built (looked for ${candidates().join(', ')}). ` +
        'Run `npm rebuild greenfiber` (or `npm install` in a checkout); it needs python3, make and a C++20 compiler.',
    );
  }
  try {
    return require(found) as NativeBinding;
  } catch (error) {
    const message = (error as Error).message;
    const fix = /NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(message)
      ? `it was built for another Node.js major than this one (${process.version}): run \`npm rebuild greenfiber\` with this Node.js`
      : 'rebuild it with `npm rebuild greenfiber`';
    throw new NativeLoadError(`greenfiber could not load its native addon ${found}: ${fix}. (${message})`, { cause: error });
  }
}

export const binding: NativeBinding = load();
