// ThreadPool: CPU-bound calls on worker_threads while only the calling greenlet parks; results and
// errors crossing back; crashes; closing. Ported cases name gevent's test__threadpool.py.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  BlockingOnHubError,
  fiberStats,
  sleep,
  spawn,
  ThreadPool,
  ThreadPoolClosedError,
  WorkerCrashedError,
} from '../dist/entries/index.js';
import { fixtures, runFixture } from './helpers';

const green = <T>(fn: () => T) => (): Promise<T> => spawn(fn).promise();
const work = path.join(fixtures, 'threadpool-work.js');
const pools: ThreadPool[] = [];

function makePool(size?: number): ThreadPool {
  const pool = new ThreadPool(size);
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  for (const pool of pools.splice(0)) pool.kill();
  for (let i = 0; i < 100 && fiberStats().started > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(fiberStats().started).toBe(0);
});

describe('ThreadPool', () => {
  // gevent test__threadpool.py TestPool.test_apply
  it('returns the result of the export', green(() => {
    const pool = makePool(1);
    expect(pool.run(work, 'add', 2, 3)).toBe(5);
    expect(pool.run(work, 'fib', 20)).toBe(6765);
    expect(pool.run(work, 'slow', 1, 'async result')).toBe('async result');
  }));

  it('parks only the calling greenlet while a worker computes', green(() => {
    const pool = makePool(1);
    let ticks = 0;
    let running = true;
    const ticker = spawn(() => {
      while (running) {
        ticks++;
        sleep(1);
      }
    });
    const value = pool.run(work, 'fib', 30);
    running = false;
    ticker.join();
    expect(value).toBe(832040);
    expect(ticks).toBeGreaterThan(1);
  }));

  it('runs calls on up to `size` threads at once', green(() => {
    const pool = makePool(2);
    const results = [0, 1, 2, 3].map((i) => pool.spawn<number>(work, 'slow', 10, i));
    expect(pool.threads).toBeLessThanOrEqual(2);
    expect(results.map((result) => result.get())).toEqual([0, 1, 2, 3]);
    const ids = new Set([0, 1, 2, 3].map(() => pool.spawn<number>(work, 'whoAmI')).map((result) => result.get()));
    expect(ids.size).toBeLessThanOrEqual(2);
    expect(pool.size).toBe(2);
  }));

  // gevent test__threadpool.py TestPool.test_apply_raises
  it('rethrows the error of the export with its class, message and properties', green(() => {
    const pool = makePool(1);
    let error: any;
    try {
      pool.run(work, 'fail');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('out of range');
    expect(error.code).toBe('E_RANGE');
    expect(error.detail).toEqual({ at: 3 });
    expect(error.stack).toContain('threadpool-work.js');
    expect(() => pool.run(work, 'failCustom')).toThrow(expect.objectContaining({ name: 'CustomError', message: 'custom' }));
    expect(() => pool.run(work, 'throwString')).toThrow('a string');
    expect(pool.run(work, 'add', 1, 1)).toBe(2); // the worker survived
  }));

  it('loads ES modules, file URLs and paths relative to the working directory', green(() => {
    const pool = makePool(1);
    const esm = path.join(fixtures, 'threadpool-work.mjs');
    expect(pool.run(esm, 'square', 4)).toBe(16);
    expect(pool.run(esm, 'cube', 2)).toBe(8); // an export of the default object
    expect(pool.run(pathToFileURL(work), 'add', 1, 2)).toBe(3);
    expect(pool.run(path.relative(process.cwd(), work), 'add', 2, 2)).toBe(4);
    expect(() => pool.run(work, 'missing')).toThrow(/no function export named "missing"/);
  }));

  it('sends Buffers and ArrayBuffers back', green(() => {
    const pool = makePool(1);
    const buffer = pool.run<Buffer>(work, 'buffer', 4);
    expect(Buffer.isBuffer(buffer)).toBe(true);
    expect([...buffer]).toEqual([7, 7, 7, 7]);
    const arrayBuffer = pool.run<ArrayBuffer>(work, 'arrayBuffer', 3);
    expect(arrayBuffer).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(arrayBuffer)]).toEqual([9, 9, 9]);
  }));

  it('explains arguments and results that cannot cross threads', green(() => {
    const pool = makePool(1);
    expect(() => pool.run(work, 'add', () => 1, 2)).toThrow(/cannot be sent to a worker thread/);
    expect(() => pool.run(work, 'function')).toThrow(/cannot be sent back/);
  }));

  it('fails a call whose worker dies with WorkerCrashedError and replaces the worker', green(() => {
    const pool = makePool(1);
    let error: any;
    try {
      pool.run(work, 'exit', 7);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect(error.code).toBe('GF_ERR_WORKER_CRASHED');
    expect(error.message).toContain('exit code 7');
    expect(() => pool.run(work, 'crashDuring')).toThrow(/crashed during the call/);
    expect(pool.run(work, 'add', 20, 22)).toBe(42);
  }));

  it('refuses to block in a plain loop callback', green(() => {
    const pool = makePool(1);
    const outcome = new AsyncResult<unknown>();
    setTimeout(() => {
      try {
        outcome.set(pool.run(work, 'add', 1, 2));
      } catch (error) {
        outcome.set(error);
      }
    }, 1);
    expect(outcome.get()).toBeInstanceOf(BlockingOnHubError);
    expect(pool.pending).toBe(0);
    expect(pool.spawn(work, 'add', 1, 2).get()).toBe(3); // spawn() works anywhere
  }));

  it('kill() fails queued and running calls; close() refuses new ones', green(() => {
    const pool = makePool(1);
    const running = pool.spawn(work, 'slow', 10_000, 'never');
    const queued = pool.spawn(work, 'add', 1, 2);
    expect(pool.pending).toBe(1);
    pool.kill();
    expect(() => queued.get()).toThrow(ThreadPoolClosedError);
    expect(() => running.get()).toThrow(ThreadPoolClosedError);
    expect(() => pool.run(work, 'add', 1, 2)).toThrow(ThreadPoolClosedError);
    const closing = makePool(1);
    const last = closing.spawn(work, 'add', 2, 2);
    closing.close();
    expect(last.get()).toBe(4);
    expect(() => closing.spawn(work, 'add', 1, 1)).toThrow(ThreadPoolClosedError);
  }));

  // gevent test__threadpool.py TestPool.test_init_valueerror
  it('rejects a bad size', () => {
    expect(() => new ThreadPool(0)).toThrow(RangeError);
    expect(() => new ThreadPool(1.5)).toThrow(RangeError);
  });

  it('blocks the top level of a CommonJS script, survives crashes and lets the process exit', () => {
    const result = runFixture('threadpool-exit.js', [], { timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'fib 6765',
      'exit true GF_ERR_WORKER_CRASHED true',
      'crashDuring true GF_ERR_WORKER_CRASHED true',
      'hog true GF_ERR_WORKER_CRASHED true',
      'crashLater returned',
      'after crashes 5',
      'end of script',
    ]);
    expect(result.status).toBe(0);
  });
});
