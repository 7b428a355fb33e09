// The greenfiber command: `greenfiber [--patch-all] script.(js|cjs|mjs|ts) [args]` runs a script as
// the main greenlet, so its top level may block (gevent's `python -m gevent.monkey script.py`).
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { main } from './main';
import { wait } from './wait';

const USAGE = `usage: greenfiber [options] <script.(js|cjs|mjs|ts)> [args...]

Runs the script as the main greenlet: its top level may call blocking greenfiber functions
(sleep, joinAll, wait, ...), and the process exits when nothing is left to run.

options:
  --patch-all    call patchAll() from greenfiber/monkey before the script runs
  -h, --help     print this help
  -v, --version  print greenfiber's version
`;

interface Command {
  patchAll: boolean;
  script: string;
  args: string[];
}

/** Parses the command line; returns an exit code for what it handled itself (help, errors). */
function parse(argv: string[]): Command | number {
  let patchAll = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      if (i + 1 >= argv.length) break;
      return { patchAll, script: argv[i + 1], args: argv.slice(i + 2) };
    }
    if (arg === '--patch-all') {
      patchAll = true;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (arg === '-v' || arg === '--version') {
      process.stdout.write(`${(require('../package.json') as { version: string }).version}\n`);
      return 0;
    } else if (arg.startsWith('-') && arg !== '-') {
      process.stderr.write(`greenfiber: unknown option ${JSON.stringify(arg)}\n\n${USAGE}`);
      return 2;
    } else {
      return { patchAll, script: arg, args: argv.slice(i + 1) };
    }
  }
  process.stderr.write(`greenfiber: no script given\n\n${USAGE}`);
  return 2;
}

/** Whether Node loads `file` as an ES module: by extension, else by the nearest package.json "type". */
function isModule(file: string): boolean {
  const ext = path.extname(file);
  if (ext === '.mjs' || ext === '.mts') return true;
  if (ext === '.cjs' || ext === '.cts') return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

// A real import(): TypeScript compiles import() to require() in CommonJS output.
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

function isTypeScript(file: string): boolean {
  return /\.[cm]?ts$/.test(file);
}

/**
 * Whether this Node can load TypeScript: a loader is registered (tsx, ts-node), or Node strips
 * types itself. Returns 'restart' when it can, but only behind --experimental-strip-types.
 */
function typeScriptSupport(): 'yes' | 'restart' | 'no' {
  const extensions = (Module as unknown as { _extensions: Record<string, unknown> })._extensions;
  if (extensions['.ts'] !== undefined) return 'yes';
  if ((process.features as { typescript?: unknown }).typescript) return 'yes';
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 6)) return process.execArgv.includes('--experimental-strip-types') ? 'no' : 'restart';
  return 'no';
}

function patchAll(): boolean {
  let monkey: { patchAll?: () => void };
  try {
    monkey = require('./entries/monkey');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    process.stderr.write('greenfiber: --patch-all is not available in this version of greenfiber (greenfiber/monkey is not part of it yet); run the script without it\n');
    return false;
  }
  monkey.patchAll!();
  return true;
}

// The SyntaxErrors by which Node itself tells ES module syntax in a file of no declared type.
const moduleSyntaxErrors = /Cannot use import statement outside a module|Unexpected token 'export'|Cannot use 'import\.meta' outside a module|await is only valid in async functions/;

/**
 * Whether a file of no declared module type holds ES module syntax. Node (22+) runs such a file,
 * when it is the main module, through its asynchronous ESM loader, outside our greenlet; we load
 * it with require(esm) instead. Detected as Node does: compile it as a CommonJS body.
 */
function hasModuleSyntax(file: string): boolean {
  // require() loads TypeScript of either syntax (type stripping is not there to detect with).
  if (isTypeScript(file)) return true;
  const source = fs.readFileSync(file, 'utf8');
  try {
    vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
    return false;
  } catch (error) {
    return error instanceof SyntaxError && moduleSyntaxErrors.test(error.message);
  }
}

/** Runs the script in the calling greenlet, as Node would run it as the main module. */
function load(file: string): unknown {
  if (!isModule(file) && !hasModuleSyntax(file)) {
    return (Module as unknown as { _load(request: string, parent: null, isMain: boolean): unknown })._load(file, null, true);
  }
  try {
    // require(esm): evaluated synchronously, here in the main greenlet, so its top level may block.
    return require(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_REQUIRE_ESM') throw error;
    // Top-level await (or a Node without require(esm)): the module body runs as async code, on the
    // hub; blocking calls in it need main() or spawn().
    return wait(importModule(pathToFileURL(file).href));
  }
}

/** Runs the command; returns the exit code when it ends before the script runs. */
export function run(argv: string[]): number | undefined {
  const command = parse(argv);
  if (typeof command === 'number') return command;
  const file = path.resolve(command.script);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    process.stderr.write(`greenfiber: cannot find script ${JSON.stringify(command.script)} (looked for ${file})\n`);
    return 1;
  }
  if (isTypeScript(file)) {
    const support = typeScriptSupport();
    if (support === 'restart') {
      const result = spawnSync(process.execPath, [...process.execArgv, '--experimental-strip-types', '--no-warnings=ExperimentalWarning', process.argv[1], ...argv], { stdio: 'inherit' });
      return result.status ?? 1;
    }
    if (support === 'no') {
      process.stderr.write(
        `greenfiber: cannot run ${command.script}: this Node.js (${process.version}) cannot strip TypeScript types. ` +
          'Use Node.js 22.18 or later (22.6 or later with --experimental-strip-types), compile the script with tsc first, ' +
          "or register a TypeScript loader, e.g. NODE_OPTIONS='--require tsx/cjs' greenfiber script.ts\n",
      );
      return 1;
    }
  }
  process.argv = [process.argv[0], file, ...command.args];
  if (command.patchAll && !patchAll()) return 1;
  main(() => {
    load(file);
  }).then(undefined, (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? String(error)) : `Uncaught ${String(error)}`}\n`);
    process.exitCode = 1;
  });
  return undefined;
}
