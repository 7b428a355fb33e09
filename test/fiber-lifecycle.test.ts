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

  it('young stores survive scavenges while fibers are suspended (V8 visits the continuation data once per suspended fiber)', () => {
    // Each run crashed about every other time on Node 24/26 before the fix: run it a few times.
    for (let run = 0; run < 3; run++) {
      const result = runFixture('fiber-async-context-gc.js', ['40']);
      expect(result.stderr).not.toMatch(/FATAL|unreachable/);
      expect(result.signal).toBeNull();
      expect(result.status).toBe(0);
      expect(json(result.stdout)).toEqual({ rounds: 40, failures: 0, results: 8 });
    }
  }, 60_000);
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

describe('a worker that alone loads greenfiber', () => {
  // Each used to end in SIGSEGV: the addon's libuv close callback ran after the worker unloaded it.
  // switching, natives: terminate() could stop the environment between two N-API calls of a native
  // function (Node 24/26: node-addon-api's throw of that failure aborted the process, 1 run in 5).
  it.each(['plain', 'fibers', 'switching', 'natives', 'exit', 'generators', 'greenlets', 'nested'])('exits cleanly (%s)', (mode) => {
    const result = runFixture('lifecycle-worker-only.js', [mode, '2'], { timeout: 30_000 });
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const expected: Record<string, number> = { switching: 1, natives: 1, exit: 5 };
    for (const worker of json(result.stdout)) expect(worker.code).toBe(expected[mode] ?? 0);
  });
});

describe('garbage collection on fiber threads (the stack a conservative scan walks)', () => {
  // On Node 20 (V8 11.3) `above` died of SIGSEGV in every run before each switch re-entered the isolate.
  it.each([
    ['above', [], '600000'],
    ['below', [], '300000'],
    ['main', [], '300000'],
    ['above', ['--stress-compaction'], '20000'],
    ['main', ['--expose-gc'], '300000'],
    ['buffers', [], '0'],
    ['kill', [], '300000'],
  ])('%s %j: every object survives', (mode, nodeArgs, size) => {
    const result = runFixture('fiber-gc-stackstart.js', [mode as string, size as string], { nodeArgs: nodeArgs as string[], timeout: 120_000 });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(json(result.stdout)).toMatchObject({ mode, dead: true });
  }, 130_000);
});

describe('the fiber-thread cap', () => {
  const env = { GREENFIBER_MAX_FIBERS: '200' };
  it('refuses past the cap with a FiberError that gives the numbers and the fix; all goes on after', () => {
    const result = runFixture('fiber-cap.js', ['park'], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = json(result.stdout);
    expect(report).toMatchObject({ cap: 200, parked: 200, heapWorks: true, finished: 200, again: 200, finishedAgain: 200 });
    expect(report.error).toMatchObject({ name: 'FiberError', code: 'GF_ERR_FIBER' });
    expect(report.error.message).toMatch(/cap of 200 fiber threads per process is reached \(200 alive/);
    expect(report.error.message).toMatch(/GREENFIBER_MAX_FIBERS/);
  });
  it('reclaims dropped suspended fibers at the cap instead of refusing', () => {
    const result = runFixture('fiber-cap.js', ['dropped'], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(json(result.stdout)).toMatchObject({ cap: 200, created: 600, unwoundAtLeast: true });
    expect(json(result.stdout).threads).toBeLessThanOrEqual(200);
  });
  it('is one cap for the whole process, worker threads included', () => {
    const result = runFixture('fiber-cap.js', ['worker'], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = json(result.stdout);
    expect(report).toMatchObject({ cap: 200, mine: 100, refused: 'GF_ERR_FIBER' });
    // Every fiber thread counts, the in-thread backend's spare donors of the main thread included.
    expect(report.total + report.spare).toBe(200);
    expect(report.spare).toBeLessThanOrEqual(16);
  });
  it('by default leaves a reserve of memory mappings and tasks free', async () => {
    const { fiberStats } = await import('../dist/entries/index.js');
    const { binding } = await import('../dist/binding.js');
    const limits = binding.limits();
    expect(fiberStats().cap).toBe(limits.cap);
    expect(limits.cap).toBe(Math.min(limits.byMaps, limits.byTasks));
    expect(2 * limits.byMaps + limits.mapReserve + limits.mapsInUse).toBeLessThanOrEqual(limits.maxMapCount);
    expect(limits.mapReserve).toBeGreaterThanOrEqual(8192);
    expect(limits.byTasks + limits.taskReserve + limits.tasksInUse).toBeLessThanOrEqual(limits.taskLimit);
  });
});

// The thread hand-off's pool only: the in-thread backend keeps its donors (README "Limits and lifecycle").
// The thread hand-off's pooled threads and the in-thread backend's donors follow one idle policy.
describe.each(['thread', 'tcb'])('the idle thread pool (%s backend)', (backend) => {
  const env = { GREENFIBER_IDLE_MS: '500', GREENFIBER_IDLE_THREADS: '4', GREENFIBER_BACKEND: backend };
  it.each(['shrink', 'worker'])('gives idle threads back down to its warm reserve (%s)', (mode) => {
    const result = runFixture('fiber-idle.js', [mode, '1000'], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const report = lines[0];
    expect(report).toMatchObject({ backend, ok1: true, ok2: true, shrunk: 4, idle: 4 });
    // Under load some threads of the burst may already have timed out by its end.
    expect(report.afterBurst).toBeGreaterThan(4);
    expect(report.afterBurst).toBeLessThanOrEqual(1000 + 16);
    // The keeper thread that retires donors is one more OS thread.
    expect(report.osGrowth).toBeLessThanOrEqual(backend === 'tcb' ? 5 : 4);
    if (mode === 'shrink') {
      expect(report.processThreads).toBe(4);
    } else {
      // The worker's threads are all given back to the process-wide count when it ends.
      expect(lines[1]).toMatchObject({ workerExit: 0 });
      expect(lines[1].processThreads).toBe(lines[1].mainThreads);
    }
  });
  it('retires threads while fibers come and go (1 ms idle, no warm reserve)', () => {
    // Every pooled thread is retired almost at once: a fiber's start and end race its retirement.
    const result = runFixture('fiber-idle.js', ['shrink', '500'], {
      env: { ...env, GREENFIBER_IDLE_MS: '1', GREENFIBER_IDLE_THREADS: '0' },
    });
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ backend, ok1: true, ok2: true, shrunk: 0, idle: 0, processThreads: 0 });
  });
  it.each(['exit', 'worker-exit'])('exits cleanly while idle threads retire (%s)', (mode) => {
    const result = runFixture('fiber-idle.js', [mode, '1000'], { env });
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0].exiting).toBeGreaterThan(0);
    if (mode === 'worker-exit') {
      expect(lines[1]).toMatchObject({ workerExit: 3 });
      expect(lines[1].processThreads).toBe(lines[1].mainThreads);
    }
  });
});

describe('dropped suspended fibers in a synchronous loop', () => {
  it.each(['main', 'fiber', 'greenlet'])('are unwound without a loop turn (loop on %s)', (where) => {
    const result = runFixture('fiber-orphans-sync.js', [where, '3000'], { timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = json(result.stdout);
    expect(report).toMatchObject({ where, count: 3000, sum: 3000, unwoundInLoop: true });
    expect(report.maxThreads).toBeLessThan(2000);
  }, 130_000);

  // Live greenlets are left out of the GC hints (no GC can free them); fibers dropped beside them
  // must still be. Were the 5,000 greenlets counted, the first hint would wait for ~3,200 dropped
  // fibers (threshold 8,192 after the burst) and the next for as many again.
  it('are unwound as soon beside 5,000 live greenlets', () => {
    const result = runFixture('fiber-orphans-sync.js', ['greenlet', '6000', '5000'], { timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = json(result.stdout);
    expect(report).toMatchObject({ where: 'greenlet', live: 5000, count: 6000, sum: 6000, unwoundInLoop: true });
    // Threads beyond the greenlets' own: ~1,100-1,800 here; 3,200 and more if they were counted.
    expect(report.maxThreads).toBeLessThan(2500);
  }, 130_000);
});

describe('GC hints for dropped fibers', () => {
  // The native core asks V8 for a GC as started fibers pile up, because dropped suspended ones
  // hold threads until a GC finds them. Live greenlets are always reachable (the live set holds
  // them), so a burst of them must not ask: each full GC walks every suspended stack for nothing.
  it('a burst of live greenlets asks for none; as many raw fibers do', () => {
    const run = (kind: string) => {
      const result = runFixture('fiber-gc-hints.js', [kind, '6000'], { timeout: 120_000 });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      return json(result.stdout) as { kind: string; majorGCs: number };
    };
    const greenlets = run('greenlets');
    const fibers = run('fibers');
    // 6,000 unheld fibers cross the hint thresholds at 1,024, 2,048 and 4,096.
    expect(fibers.majorGCs).toBeGreaterThanOrEqual(3);
    expect(greenlets.majorGCs).toBeLessThan(fibers.majorGCs);
  }, 130_000);
});
