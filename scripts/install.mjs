// The package's install script. A prebuilt binary for this platform, architecture, C library and
// Node.js ABI (prebuilds/, shipped in the package) that loads here needs nothing. The addon is compiled
// from source (python3, make and a C++ compiler needed) only where none matches, where the matching one
// does not load (an older glibc), or when asked: `npm install --build-from-source`, or a source checkout
// (a git clone or git dependency), whose sources may differ from any prebuilt.
// Installing with --ignore-scripts skips this file; the loader (src/binding.ts) works the same.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { prebuildPath, root } from './addon-build.mjs';

function libc() {
  try {
    const ldd = readFileSync('/usr/bin/ldd', 'latin1');
    if (ldd.includes('musl')) return 'musl';
    if (ldd.includes('GNU C Library')) return 'glibc';
  } catch {}
  return process.report?.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
}

const forced = ['true', '1'].includes(String(process.env.npm_config_build_from_source)) ? '--build-from-source was given' : undefined;
const checkout = existsSync(join(root, 'src', 'entries')) ? 'this is a source checkout' : undefined;
if (forced === undefined && checkout === undefined) {
  if (process.platform !== 'linux') {
    console.error(`greenfiber: Linux only for now (this is ${process.platform}); nothing to build.`);
    process.exit(0);
  }
  const target = { platform: process.platform, arch: process.arch, libc: libc() };
  const prebuilt = join(root, prebuildPath(process.versions.modules, target));
  if (existsSync(prebuilt)) {
    // It exists; check that it loads here (a C library older than the one it was built against does not).
    let failure;
    try {
      if (String(createRequire(import.meta.url)(prebuilt).nodeModuleVersion) === process.versions.modules) process.exit(0);
      failure = 'it was built for another Node.js ABI';
    } catch (error) {
      failure = error.message.split('\n')[0];
    }
    console.error(`greenfiber: the prebuilt binary ${prebuilt} does not load here (${failure}); building from source. That needs python3, make and g++ 10+.`);
  } else {
    console.error(
      `greenfiber: no prebuilt binary for ${target.platform}-${target.arch} (${target.libc}) and Node.js ${process.version} ` +
        `(ABI ${process.versions.modules}) in this package; building from source. That needs python3, make and g++ 10+.`,
    );
  }
}
const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
