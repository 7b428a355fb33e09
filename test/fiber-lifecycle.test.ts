// Fiber lifecycle, each case in a fresh process: garbage collection of suspended fibers, process
// exit in every way, deep recursion, worker_threads, async context, GC stress, wasm and fetch.
import { describe, expect, it } from 'vitest';
import { runFixture } from './helpers';

function json(stdout: string): any {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

describe('garbage collection of suspended fibers', () => {
  it('unwinds 20,000 dropped suspended fibers (finally runs) and reuses their threads', () => {
    const result = runFixture('fiber-gc-orphans.js', ['20', '1000'], { nodeArgs: ['--expose-gc'] });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const batches = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(batches).toHaveLength(20);
    const last = batches[19];
    expect(last.unwound).toBe(20_000);
    expect(last.started).toBe(0);
    // Threads are bounded by one batch, not by the total; RSS does not grow with the batches. The
    // in-thread backend creates its donor threads up to 16 at a time, so it may hold a few spare.
    const spare = batches[0].backend === 'tcb' ? 16 : 0;
    expect(Math.max(...batches.map((b) => b.threads))).toBeLessThanOrEqual(1000 + spare);
    expect(last.rss).toBeLessThan(batches[1].rss * 1.5);
  });
});

describe('process exit with hundreds of fibers suspended', () => {
  const cases: [string, number, RegExp | null][] = [
    ['end', 0, null],
    ['timer-end', 0, /timer ran/],
    ['exit', 3, null],
    ['exit-in-fiber', 4, null],
    ['throw-in-fiber', 1, /boom from fiber/],
    ['throw', 1, /boom from main/],
  ];
  it.each(cases)('%s exits with %i and no V8 fatal error', (mode, code, output) => {
    const result = runFixture('fiber-exit.js', [mode, '300'], { timeout: 30_000 });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(code);
    expect(result.stdout).toMatch(/^suspended 300\n/);
    expect(result.stdout).toContain(`exit event ${code}`);
    expect(result.stderr).not.toMatch(/Fatal error|FATAL ERROR|Disposing the isolate|Segmentation/);
    if (output) expect(result.stdout + result.stderr).toMatch(output);
  });
});

describe('deep recursion', () => {
  it('throws RangeError inside a fiber instead of crashing, also with --stack-size', () => {
    for (const nodeArgs of [[], ['--stack-size=4000']]) {
      const result = runFixture('fiber-recursion.js', [], { nodeArgs });
      expect(result.status).toBe(0);
      const report = json(result.stdout);
      expect(report.results.slice(0, 3)).toEqual(['RangeError', 'RangeError', 'RangeError']);
      // JSON.stringify recursed natively before V8 14, which serializes deep input iteratively.
      expect(['RangeError', 'serialized']).toContain(report.results[3]);
      expect(report.value).toBe(5000);
    }
  });
});

describe('worker_threads', () => {
  it('gives each isolate its own fibers; workers end, exit and terminate cleanly', () => {
    const result = runFixture('fiber-workers.js', [], { timeout: 30_000 });
    expect(result.stderr).not.toMatch(/FATAL|Segmentation/);
    expect(result.status).toBe(0);
    const { expected, results } = json(result.stdout);
    const byMode = Object.fromEntries(results.map((r: any) => [r.mode, r]));
    expect(results.filter((r: any) => r.mode === 'work').map((r: any) => r.messages)).toEqual([[expected], [expected]]);
    expect(byMode.end).toMatchObject({ code: 0, messages: ['suspended'] });
    // process.exit() inside a worker's fiber ends the worker at once: no later line runs.
    expect(byMode['exit-in-fiber']).toMatchObject({ code: 7, messages: [] });
    // terminate() while a fiber spins in JavaScript.
    expect(byMode.terminate).toMatchObject({ code: 1, messages: ['spinning'] });
    expect(byMode.main.value).toBe(true);
  });
});

describe('async context', () => {
  it.each([['without hooks', []], ['with async hooks enabled', ['hooks']]])(
    'AsyncLocalStorage and the async id stack follow each fiber (%s)',
    (_label, args) => {
      const result = runFixture('fiber-async-context.js', args as string[]);
      expect(result.stderr).not.toMatch(/corrupted|FATAL/);
      expect(result.status).toBe(0);
      const report = json(result.stdout);
      expect(report.failed).toEqual([]);
      expect(report.passed).toBe(21);
    },
  );
});

describe('GC safety', () => {
  it.each([
    ['--stress-compaction', ['--expose-gc', '--stress-compaction', '--gc-interval=500'], ['50', '100']],
    ['--stress-scavenge', ['--stress-scavenge=10', '--verify-heap'], ['30', '60']],
  ])('suspended fibers keep every object intact under %s', (_label, nodeArgs, args) => {
    const result = runFixture('fiber-gc-stress.js', args as string[], { nodeArgs: nodeArgs as string[], timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = json(result.stdout);
    expect(report.failures).toEqual([]);
    expect(report.sum).toBe(report.expected);
    expect(report.dead).toBe(true);
  });
});

describe('WebAssembly and fetch', () => {
  // Without greenfiber turning wasm code GC off, V8 aborts this fixture ("archived threads in
  // combination with wasm not supported") on Node 20 to 26: GREENFIBER_KEEP_WASM_CODE_GC=1 shows it.
  it('work inside fibers and while fibers are parked', () => {
    const result = runFixture('fiber-wasm-fetch.js', [], { timeout: 30_000 });
    expect(result.stderr).not.toMatch(/Fatal|archived threads/);
    expect(result.status).toBe(0);
    expect(json(result.stdout)).toEqual({
      syncWasmInFiber: 5,
      syncWasmOnMainWhileParked: 2,
      asyncWasmFromFiber: 42,
      fetchFromFiber: 'hello /from-fiber',
      fetcherFinished: 'fiber done',
      fetchOnMainWhileParked: 'hello /main',
      manyFetches: true,
      parkedFinished: true,
    });
  });
});

describe('package entry points', () => {
  it('ESM and CommonJS share one runtime (no dual-package hazard)', () => {
    const result = runFixture('esm-entry.mjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(json(result.stdout)).toEqual({ sameClass: true, sameErrors: true, first: 42, second: 42, dead: true });
  });
});

describe('parking in the kernel', () => {
  it('gives back stack pages below a parked fiber without touching live ones, at every depth', () => {
    // GREENFIBER_SPIN_NS=0: every wait parks in the kernel, where the stack below is released.
    const result = runFixture('fiber-park-depths.js', [], { env: { GREENFIBER_SPIN_NS: '0' } });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(json(result.stdout)).toEqual({ fibers: 640, dead: true, total: true });
  });
});
