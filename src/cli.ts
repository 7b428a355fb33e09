// The greenfiber command: `greenfiber [--patch-all] script.(js|cjs|mjs|ts) [args]` runs a script as
// the main greenlet, so its top level may block (gevent's `python -m gevent.monkey script.py`);
// with `--workers N`, in N processes of node:cluster (gunicorn's `-k gevent -w N`).
import cluster from 'node:cluster';
import * as fs from 'node:fs';
import * as os from 'node:os';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { runWorkers, setUpWorker } from './cli-workers';
import { main } from './main';
import { wait } from './wait';

const USAGE = `usage: greenfiber [options] <script.(js|cjs|mjs|ts)> [args...]

Runs the script as the main greenlet: its top level may call blocking greenfiber functions
(sleep, joinAll, wait, ...), and the process exits when nothing is left to run.

options:
  --patch-all        call patchAll() from greenfiber/monkey before the script runs
  --workers N|auto   run the script in N processes (node:cluster; auto: one per available core),
                     each its own main greenlet and hub; servers they open share the port. A
                     worker that crashes is replaced (after 0.1 s, doubling to 10 s; after 5
                     crashes in a row within 30 s of starting, greenfiber stops and exits 1).
                     SIGTERM/SIGINT: workers stop accepting, finish what is in flight, exit; 0.
  --grace MS         with --workers: how long a worker may take to finish (default 30000), then
                     it is killed
  -h, --help         print this help
  -v, --version      print greenfiber's version
`;

interface Command {
  patchAll: boolean;
  /** Processes to run the script in; null: this one. */
  workers: number | null;
  graceMs: number;
  script: string;
  args: string[];
}

const MAX_WORKERS = 1024;

function usageError(message: string): number {
  process.stderr.write(`greenfiber: ${message}\n\n${USAGE}`);
  return 2;
}

/** Parses the command line; returns an exit code for what it handled itself (help, errors). */
function parse(argv: string[]): Command | number {
  let patchAll = false;
  let workers: number | null = null;
  let graceMs: number | null = null;
  const done = (script: string, args: string[]): Command | number => {
    if (graceMs !== null && workers === null) return usageError('--grace needs --workers');
    return { patchAll, workers, graceMs: graceMs ?? 30_000, script, args };
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      if (i + 1 >= argv.length) break;
      return done(argv[i + 1], argv.slice(i + 2));
    }
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--workers' || name === '--grace') {
      const value = inline ?? argv[++i];
      if (value === undefined) return usageError(`expected a value after ${name}`);
      if (name === '--workers') {
        const count = value === 'auto' ? os.availableParallelism() : Number(value);
        if (!Number.isInteger(count) || count < 1 || count > MAX_WORKERS) return usageError(`expected an integer from 1 to ${MAX_WORKERS} or "auto" for --workers but received ${JSON.stringify(value)}`);
        workers = count;
      } else {
        const ms = Number(value);
        if (value.trim() === '' || !Number.isFinite(ms) || ms < 0) return usageError(`expected a number of milliseconds >= 0 for --grace but received ${JSON.stringify(value)}`);
        graceMs = ms;
      }
    } else if (arg === '--patch-all') {
      patchAll = true;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (arg === '-v' || arg === '--version') {
      process.stdout.write(`${(require('../package.json') as { version: string }).version}\n`);
      return 0;
    } else if (arg.startsWith('-') && arg !== '-') {
      return usageError(`unknown option ${JSON.stringify(arg)}`);
    } else {
      return done(arg, argv.slice(i + 1));
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
  const primary = command.workers !== null && cluster.isPrimary;
  if (isTypeScript(file)) {
    const support = typeScriptSupport();
    if (support === 'restart' && primary) {
      runWorkers({ count: command.workers!, graceMs: command.graceMs, execArgv: ['--experimental-strip-types', '--no-warnings=ExperimentalWarning'] });
      return undefined;
    }
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
  if (primary) {
    // The workers run this same command line (cluster forks process.argv[1] with its arguments).
    runWorkers({ count: command.workers!, graceMs: command.graceMs });
    return undefined;
  }
  const workerScriptDone = command.workers !== null ? setUpWorker() : null;
  process.argv = [process.argv[0], file, ...command.args];
  if (command.patchAll && !patchAll()) return 1;
  main(() => {
    load(file);
  }).then(workerScriptDone ?? undefined, (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? String(error)) : `Uncaught ${String(error)}`}\n`);
    process.exitCode = 1;
    workerScriptDone?.();
  });
  return undefined;
}
