// Proves the packed package installs and runs as a user gets it: `npm pack` (which runs prepack, so
// the prebuilt binaries are built or found fresh), then, for each Node.js major given (default 20 24),
// `npm install --ignore-scripts <tarball>` into a fresh project with a PATH holding only that node
// (no compiler, make or python), and a fiber switch and a greenlet through require and import of
// every public subpath, loading the prebuilt binary. On the first major it also checks what the
// loader and the install script say when no binary fits.   Usage: npm run check:pack [-- 20 24]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { prebuildPath, registryNode, root, SUPPORTED_MAJORS } from './addon-build.mjs';

const majors = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [20, 24];
const SUBPATHS = ['greenfiber', 'greenfiber/fiber', 'greenfiber/sync', 'greenfiber/pool', 'greenfiber/monkey', 'greenfiber/net', 'greenfiber/http', 'greenfiber/dns'];
const TOOLS = ['g++', 'c++', 'gcc', 'cc', 'clang', 'make', 'python', 'python3'];

function fail(message) {
  console.error(`check:pack: FAILED: ${message}`);
  process.exit(1);
}

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) fail(`${command} ${args.join(' ')}: ${result.error.message}`);
  return result;
}

function npmCli() {
  for (const dir of process.env.PATH.split(delimiter)) {
    if (existsSync(join(dir, 'npm'))) return realpathSync(join(dir, 'npm'));
  }
  fail('npm is not on PATH');
}

const work = mkdtempSync(join(tmpdir(), 'greenfiber-pack-'));
try {
  // 1. Pack. Lifecycle output (prepack, prepare) goes to stderr so stdout is npm's JSON alone.
  const packed = run('npm', ['pack', '--json', '--foreground-scripts', '--pack-destination', work], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  if (packed.status !== 0) fail(`npm pack exited with ${packed.status}`);
  // A lifecycle script may still print to stdout (node-gyp's `spawn args [ … ]`): take npm's own JSON,
  // the array that holds the package's id.
  const idAt = packed.stdout.indexOf('"id": "greenfiber@');
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('[', idAt)));
  const tarball = join(work, info.filename);
  const prebuilt = info.files.filter((file) => file.path.startsWith('prebuilds/')).map((file) => file.path);
  console.log(`check:pack: ${info.filename}: ${(info.size / 1024).toFixed(0)} kB packed, ${(info.unpackedSize / 1024).toFixed(0)} kB unpacked, ${info.entryCount} files`);
  console.log(`check:pack: prebuilt binaries: ${prebuilt.join(', ')}`);
  if (prebuilt.length !== SUPPORTED_MAJORS.length) fail(`expected ${SUPPORTED_MAJORS.length} prebuilt binaries in the package`);
  for (const file of info.files) {
    if (/^(src|test|\.cache|build)\//.test(file.path)) fail(`the package holds ${file.path}`);
  }

  for (const [index, major] of majors.entries()) {
    const node = Number(process.versions.node.split('.')[0]) === major ? { nodeBin: process.execPath, abi: process.versions.modules } : registryNode(major);
    // 2. A fresh project whose PATH holds only this node.
    const project = join(work, `node-${major}`);
    const bin = join(project, '.bin-only-node');
    mkdirSync(bin, { recursive: true });
    symlinkSync(node.nodeBin, join(bin, 'node'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `check-pack-${major}`, private: true }));
    const env = { HOME: process.env.HOME, PATH: bin, npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME, '.npm') };
    const reachable = TOOLS.filter((tool) => env.PATH.split(delimiter).some((dir) => existsSync(join(dir, tool))));
    if (reachable.length > 0) fail(`${reachable.join(', ')} reachable on the test PATH`);
    const install = run(node.nodeBin, [npmCli(), 'install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (install.status !== 0) fail(`npm install of the tarball on Node ${major} exited with ${install.status}:\n${install.stdout}${install.stderr}`);
    const installed = join(project, 'node_modules', 'greenfiber');
    if (existsSync(join(installed, 'build'))) fail('the install compiled something (build/ exists)');

    // 3. require and import, a fiber switch and a greenlet, on the prebuilt binary.
    const expected = join(installed, prebuildPath(node.abi));
    writeFileSync(
      join(project, 'check.cjs'),
      `const gf = require('greenfiber');
const loaded = ${JSON.stringify(SUBPATHS)}.map((name) => Object.keys(require(name)).length);
const { Fiber } = require('greenfiber/fiber');
const main = Fiber.current;
const fiber = new Fiber((x) => main.switch(x + 1));
const switched = fiber.switch(41);
gf.main(() => gf.spawn((a) => { gf.sleep(1); return a * 2; }, 21).get()).then((greenlet) => {
  const addon = Object.keys(require.cache).find((file) => file.endsWith('.node'));
  console.log(JSON.stringify({ switched, greenlet, addon, empty: loaded.filter((n) => n === 0).length }));
});
`,
    );
    writeFileSync(
      join(project, 'check.mjs'),
      `import { createRequire } from 'node:module';
import { main, spawn, sleep } from 'greenfiber';
import { Fiber } from 'greenfiber/fiber';
const modules = await Promise.all(${JSON.stringify(SUBPATHS)}.map((name) => import(name)));
const current = Fiber.current;
const fiber = new Fiber((x) => current.switch(x + 1));
const switched = fiber.switch(41);
const greenlet = await main(() => spawn((a) => { sleep(1); return a * 2; }, 21).get());
const require = createRequire(import.meta.url);
const addon = Object.keys(require.cache).find((file) => file.endsWith('.node'));
console.log(JSON.stringify({ switched, greenlet, addon, empty: modules.filter((m) => Object.keys(m).length <= 1).length }));
`,
    );
    for (const script of ['check.cjs', 'check.mjs']) {
      const result = run(node.nodeBin, [script], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const line = result.stdout.trim();
      const want = JSON.stringify({ switched: 42, greenlet: 42, addon: expected, empty: 0 });
      if (result.status !== 0 || line !== want || result.stderr !== '') fail(`Node ${major} ${script}: exit ${result.status}, stdout ${line}, stderr ${result.stderr}\n  expected ${want}`);
    }
    console.log(`check:pack: Node ${major} (ABI ${node.abi}): installed with --ignore-scripts and no compiler; require and import switch fibers on ${prebuildPath(node.abi)}`);
    if (index !== 0) continue;

    // 4. What the user is told when no binary fits.
    const probe = `try { require('greenfiber'); console.log('loaded'); } catch (e) { console.log(e.code + ' ' + e.message); }`;
    const loaderSays = () => run(node.nodeBin, ['-e', probe], { cwd: project, env }).stdout;
    const aside = `${expected}.aside`;
    const cases = [
      { name: 'no prebuilt for this ABI', prepare: () => renameSync(expected, aside), want: [/^GF_ERR_NATIVE_LOAD /, /are for Node\.js .*only/, /--build-from-source/, /--ignore-scripts/] },
      {
        name: 'a binary for another ABI under this name',
        prepare: () => {
          renameSync(expected, aside);
          const other = readdirSync(join(installed, 'prebuilds', 'linux-x64')).find((file) => file.endsWith('.node'));
          copyFileSync(join(installed, 'prebuilds', 'linux-x64', other), expected);
        },
        want: [/^GF_ERR_NATIVE_LOAD /, /does not match its name/, /reinstall greenfiber/],
      },
      { name: 'a damaged file', prepare: () => { renameSync(expected, aside); writeFileSync(expected, 'not an ELF file'); }, want: [/^GF_ERR_NATIVE_LOAD /, /damaged or built for another architecture/] },
    ];
    for (const { name, prepare, want } of cases) {
      prepare();
      const said = loaderSays();
      rmSync(expected, { force: true });
      renameSync(aside, expected);
      for (const pattern of want) if (!pattern.test(said)) fail(`loader, ${name}: ${pattern} not in: ${said}`);
      console.log(`check:pack: loader explains ${name}: ${said.trim().slice(0, 160)}…`);
    }
    // The install script: silent with a matching prebuilt; without one, it says why it builds and what
    // the build needs, and fails (there is no compiler here).
    const installScript = join(installed, 'scripts', 'install.mjs');
    const quiet = run(node.nodeBin, [installScript], { cwd: installed, env });
    if (quiet.status !== 0 || quiet.stdout + quiet.stderr !== '') fail(`install script with a matching prebuilt: exit ${quiet.status}, ${quiet.stdout}${quiet.stderr}`);
    renameSync(expected, aside);
    const fallback = run(node.nodeBin, [installScript], { cwd: installed, env });
    writeFileSync(expected, 'not an ELF file');
    const unloadable = run(node.nodeBin, [installScript], { cwd: installed, env });
    rmSync(expected);
    renameSync(aside, expected);
    if (fallback.status === 0 || !/no prebuilt binary for linux-x64 \(glibc\)/.test(fallback.stderr) || !/node-gyp was not found|python3, make/.test(fallback.stderr)) {
      fail(`install script without a matching prebuilt: exit ${fallback.status}, ${fallback.stderr}`);
    }
    if (unloadable.status === 0 || !/does not load here/.test(unloadable.stderr)) fail(`install script with an unloadable prebuilt: exit ${unloadable.status}, ${unloadable.stderr}`);
    console.log('check:pack: install script is silent with a prebuilt; without one, or with one that does not load, it explains and builds from source (fails here: no toolchain, as it says)');
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
