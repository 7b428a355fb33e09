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
    options: { spinNs: number; pin: boolean; idleMs: number; idleKeep: number; maxFibers: number; backend: 'thread' | 'tcb' },
  ): object;
  /** `id`: idOf(handle). */
  transfer(id: number): number;
  /** The handle's id for transfer(), or -1 if it is not a live handle. */
  idOf(handle: object): number;
  state(handle: object): number;
  /** The caller keeps the fiber referenced while it is started: no GC hint counts it. */
  hold(handle: object): void;
  current(): object;
  stats(): {
    backend: 'thread' | 'tcb';
    threads: number;
    idle: number;
    started: number;
    orphans: number;
    processThreads: number;
    cap: number;
    switches: number;
    hotWakes: number;
    coldWakes: number;
  };
  limits(): ThreadLimits;
  orphanFlag(): ArrayBuffer;
  sweep(): void;
  reclaim(): void;
  runLoopOnce(): boolean;
  loopAlive(): boolean;
  /** Hands `error` to Node's uncaught-exception path; returns only when a listener handled it. */
  triggerUncaught(error: unknown): void;
  abiVersion: number;
  /** NODE_MODULE_VERSION of the headers the file was compiled against (checked by load()). */
  nodeModuleVersion: number;
  /** Why the in-thread backend cannot run in this process, or '' where it can. */
  tcbUnsupported: string;
}

/** The process-wide cap on fiber threads and the numbers it was derived from (native/fiber_core.h). */
export interface ThreadLimits {
  cap: number;
  byMaps: number;
  byTasks: number;
  maxMapCount: number;
  mapsInUse: number;
  mapReserve: number;
  taskLimit: number;
  taskLimitName: string;
  tasksInUse: number;
  taskReserve: number;
  explicit: boolean;
}

const packageRoot = path.resolve(__dirname, '..');

/** Node.js majors the package ships prebuilt binaries for, by NODE_MODULE_VERSION (for messages). */
const PREBUILT_MAJORS: Record<string, number> = { 115: 20, 127: 22, 137: 24, 147: 26 };
const BUILD_FROM_SOURCE =
  'build it from source for this Node.js: `npm rebuild greenfiber --build-from-source` (needs python3, make and g++ 10+; ' +
  '`npm run build:native` in a checkout)';

/** The C library this Node.js runs on: 'glibc' or 'musl' (Alpine). The cheap test first, then the process report. */
function libc(): 'glibc' | 'musl' {
  try {
    const ldd = fs.readFileSync('/usr/bin/ldd', 'latin1');
    if (ldd.includes('musl')) return 'musl';
    if (ldd.includes('GNU C Library')) return 'glibc';
  } catch {
    // No ldd (distroless images): ask Node.js itself.
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

interface Target {
  platform: string;
  arch: string;
  libc: 'glibc' | 'musl';
  abi: string;
}

/** Same rule as scripts/addon-build.mjs prebuildPath(): prebuilds/<platform>-<arch>/node.abi<N>.<libc>.node. */
function prebuiltFile(target: Target): string {
  return path.join(packageRoot, 'prebuilds', `${target.platform}-${target.arch}`, `node.abi${target.abi}.${target.libc}.node`);
}

/**
 * Where the addon may be, best first: a source build for this exact ABI (build:native, test:node, the
 * install script's fallback), the prebuilt binary for this platform/arch/libc/ABI, then a plain
 * node-gyp build whose ABI is unknown.
 */
function candidates(target: Target): string[] {
  return [
    path.join(packageRoot, 'build', `abi-${target.abi}`, 'greenfiber.node'),
    prebuiltFile(target),
    path.join(packageRoot, 'build', 'Release', 'greenfiber.node'),
    path.join(packageRoot, 'build', 'Debug', 'greenfiber.node'),
  ];
}

function describe(target: Target): string {
  return `Node.js ${process.version} (ABI ${target.abi}) on ${target.platform}-${target.arch} (${target.libc})`;
}

/** Why nothing was found, and the fix, from what the package does hold. */
function notFound(target: Target): string {
  const folder = path.dirname(prebuiltFile(target));
  const here = fs.existsSync(folder) ? fs.readdirSync(folder).filter((name) => name.endsWith(`.${target.libc}.node`)) : [];
  const prebuilds = path.join(packageRoot, 'prebuilds');
  const platforms = fs.existsSync(prebuilds) ? fs.readdirSync(prebuilds) : [];
  let why: string;
  if (here.length > 0) {
    const majors = here.map((name) => /abi(\d+)/.exec(name)?.[1] ?? '').map((abi) => (PREBUILT_MAJORS[abi] ? `${PREBUILT_MAJORS[abi]} (ABI ${abi})` : `ABI ${abi}`));
    why = `its prebuilt binaries for ${target.platform}-${target.arch} are for Node.js ${majors.join(', ')} only. Fix: run a supported Node.js major, or ${BUILD_FROM_SOURCE}`;
  } else if (platforms.length > 0) {
    why = `it ships prebuilt binaries for ${platforms.join(', ')} (glibc) only. Fix: ${BUILD_FROM_SOURCE}`;
  } else {
    why = `this copy has no prebuilt binaries (a source checkout or a git install) and was not built. Fix: ${BUILD_FROM_SOURCE}`;
  }
  return (
    `greenfiber has no native addon for ${describe(target)}: ${why}. ` +
    'If it was installed with --ignore-scripts, the source build did not run either. ' +
    `(Looked for ${candidates(target).join(', ')}.)`
  );
}

/** Why `require(file)` failed, and the fix, from the dynamic loader's message. */
function loadFailed(file: string, message: string, target: Target): string {
  const prebuilt = file === prebuiltFile(target);
  let fix: string;
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(message)) {
    fix = prebuilt
      ? 'the prebuilt binary does not match its name (a damaged install): reinstall greenfiber'
      : `it was built for another Node.js major than this one (${process.version}): ${BUILD_FROM_SOURCE}`;
  } else if (/GLIBC(XX)?_[\d.]+' not found|CXXABI_[\d.]+' not found/.test(message)) {
    fix = `this system's C or C++ runtime library is older than the one the binary was built against; ${BUILD_FROM_SOURCE}`;
  } else if (/lib(stdc\+\+|gcc_s)\.so[.\d]*: cannot open shared object file/.test(message)) {
    fix = 'the C++ runtime library is missing: install libstdc++ (Debian/Ubuntu: `apt-get install libstdc++6`; Alpine: `apk add libstdc++`)';
  } else if (/invalid ELF header|wrong ELF class|file too short|ELF load command|not a dynamic executable/.test(message)) {
    fix = `the file is damaged or built for another architecture than ${target.arch}: reinstall greenfiber, or ${BUILD_FROM_SOURCE}`;
  } else if (/failed to map segment|operation not permitted|EACCES|permission denied/i.test(message)) {
    fix = 'the file cannot be mapped as code (a noexec mount or missing read permission): install greenfiber on a filesystem that allows executables';
  } else {
    fix = `reinstall greenfiber, or ${BUILD_FROM_SOURCE}`;
  }
  return `greenfiber could not load its native addon ${file} for ${describe(target)}: ${fix}. (${message})`;
}

/** native/binding.cc's abiVersion: what this TypeScript expects of the addon's exports. */
const kAbiVersion = 3;

function load(): NativeBinding {
  if (process.platform !== 'linux') {
    throw new NativeLoadError(
      `greenfiber supports Linux only for now (this is ${process.platform}): its fibers are OS threads handing the V8 lock over, built and tested on Linux`,
    );
  }
  const target: Target = { platform: process.platform, arch: process.arch, libc: libc(), abi: process.versions.modules };
  const found = candidates(target).find((file) => fs.existsSync(file));
  if (found === undefined) throw new NativeLoadError(notFound(target));
  let loaded: NativeBinding;
  try {
    loaded = require(found) as NativeBinding;
  } catch (error) {
    throw new NativeLoadError(loadFailed(found, (error as Error).message, target), { cause: error });
  }
  // The addon registers through Node-API, so Node.js does not check its ABI, but it uses V8's C++ API:
  // one built for another major would crash at the first fiber. Checked here, before any call.
  if (String(loaded.nodeModuleVersion) !== target.abi) {
    const message = `The module was compiled against a different Node.js version using NODE_MODULE_VERSION ${loaded.nodeModuleVersion}. This version of Node.js requires NODE_MODULE_VERSION ${target.abi}.`;
    throw new NativeLoadError(loadFailed(found, message, target));
  }
  if (loaded.abiVersion !== kAbiVersion) {
    throw new NativeLoadError(
      `greenfiber could not use its native addon ${found}: it was built from another greenfiber version (binding ${loaded.abiVersion}, this one needs ${kAbiVersion}): ${BUILD_FROM_SOURCE}`,
    );
  }
  return loaded;
}

export const binding: NativeBinding = load();
