// The hub: runCallback's FIFO, Waiter, sleep (gevent test__sleep0.py / test__hub.py), idle,
// blocking rules (BlockingOnHubError, LoopExit at the top level), error reporting, runInfo and
// the blocking monitor.
import { afterEach, describe, expect, it } from 'vitest';
import {
  BlockingOnHubError,
  Event,
  GreenfiberError,
  LoopExit,
  Waiter,
  getCurrent,
  hub,
  idle,
  runInfo,
  sleep,
  spawn,
  joinAll,
  Fiber,
} from '../dist/entries/index.js';
import { runFixture } from './helpers';
import { captureStderr, expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

afterEach(async () => {
  hub.onError = undefined;
  hub.trackParkedStacks = false;
  await expectNoFiberLeft();
});

describe('hub.runCallback', () => {
  it('runs callbacks on the main fiber, in FIFO order, with their arguments', async () => {
    const log: unknown[] = [];
    hub.runCallback((a: number, b: number) => log.push(['first', a, b, getCurrent() === Fiber.main]), 1, 2);
    hub.runCallback(() => log.push('second'));
    await inGreenlet(() => hub.runCallback(() => log.push('from a greenlet')));
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([['first', 1, 2, true], 'second', 'from a greenlet']);
  });

  it('cancel() stops a pending callback and pending tells whether it will run', async () => {
    const log: string[] = [];
    const a = hub.runCallback(() => log.push('a'));
    const b = hub.runCallback(() => log.push('b'));
    expect(a.pending).toBe(true);
    a.cancel();
    a.cancel(); // idempotent
    expect(a.pending).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['b']);
    expect(b.pending).toBe(false);
  });

  // gevent's loop runs callbacks queued while it runs callbacks in the same pass (bounded by time)
  it('callbacks queued by a callback run in the same turn, before other immediates', async () => {
    // Same turn unless the turn is over its 5 ms budget, which a preempted test process can be:
    // a hub that never runs them in the same turn fails every attempt.
    const attempts: string[][] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const log: string[] = [];
      hub.runCallback(() => {
        log.push('turn 1');
        setImmediate(() => log.push('other immediate'));
        hub.runCallback(() => log.push('queued during turn 1'));
      });
      // Wait for all three to have run (by loop turns, not for a time).
      for (let turn = 0; turn < 1000 && log.length < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      attempts.push(log);
      if (log[1] === 'queued during turn 1') break;
    }
    expect(attempts[attempts.length - 1]).toEqual(['turn 1', 'queued during turn 1', 'other immediate']);
  });

  it('a callback that re-queues itself forever does not starve the loop: the turn has a budget', async () => {
    let stop = false;
    let rounds = 0;
    const again = (): void => {
      rounds += 1;
      if (!stop) hub.runCallback(again);
    };
    hub.runCallback(again);
    // Only runs if the hub gives the loop back while `again` keeps queueing itself.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        stop = true;
        resolve();
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(stop).toBe(true);
    expect(rounds).toBeGreaterThan(1);
  });

  // gevent test__hub.py TestHandleError / TestExceptionInMainloop: a failing callback does not stop the hub
  it('reports an error thrown by a callback and keeps going', async () => {
    const seen: unknown[] = [];
    hub.onError = (greenlet, error) => seen.push([greenlet, (error as Error).message]);
    const log: string[] = [];
    hub.runCallback(() => {
      throw new Error('callback failed');
    });
    hub.runCallback(() => log.push('next one ran'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([[undefined, 'callback failed']]);
    expect(log).toEqual(['next one ran']);
  });

  // gevent test__hub.py TestHandleError.test_exception_in_custom_handle_error_does_not_crash
  it('survives an onError that throws', async () => {
    hub.onError = () => {
      throw new Error('reporter broke');
    };
    const log: string[] = [];
    hub.runCallback(() => {
      throw new Error('x');
    });
    hub.runCallback(() => log.push('still running'));
    const written = await captureStderr(() => new Promise((resolve) => setImmediate(resolve)));
    expect(log).toEqual(['still running']);
    expect(written).toMatch(/hub\.onError threw while reporting an error: Error: reporter broke[\s\S]*The error it was reporting: Error: x/);
  });
});

describe('Waiter', () => {
  // gevent test__hub.py TestWaiter.test
  it('keeps a value delivered before get() and returns it at once', async () => {
    const waiter = new Waiter<number>();
    expect(waiter.ready()).toBe(false);
    waiter.switch(25);
    expect(waiter.ready()).toBe(true);
    expect(await inGreenlet(() => waiter.get())).toBe(25);
    waiter.switch(26); // the first delivery wins
    expect(await inGreenlet(() => waiter.get())).toBe(25);
  });

  it('parks a greenlet until a loop callback, another greenlet or async code delivers', async () => {
    const fromCallback = new Waiter<string>();
    setTimeout(() => fromCallback.switch('timer'), 1);
    expect(await inGreenlet(() => fromCallback.get())).toBe('timer');

    const fromGreenlet = new Waiter<string>();
    const results = await inGreenlet(() => {
      const getter = spawn(() => fromGreenlet.get());
      sleep(0);
      expect(fromGreenlet.waiting).toBe(true);
      fromGreenlet.switch('greenlet');
      return getter.get();
    });
    expect(results).toBe('greenlet');

    const fromAsync = new Waiter<string>();
    void Promise.resolve().then(() => fromAsync.switch('async'));
    expect(await inGreenlet(() => fromAsync.get())).toBe('async');
  });

  it('throw() raises in the waiting greenlet', async () => {
    const waiter = new Waiter<number>();
    setTimeout(() => waiter.throw(new RangeError('delivered error')), 1);
    await expect(inGreenlet(() => waiter.get())).rejects.toThrow(RangeError);
  });

  it('get() in a loop callback outside any greenlet throws BlockingOnHubError naming the fix', async () => {
    const error = await new Promise<unknown>((resolve) =>
      setTimeout(() => {
        try {
          new Waiter().get();
          resolve(undefined);
        } catch (e) {
          resolve(e);
        }
      }, 1),
    );
    expect(error).toBeInstanceOf(BlockingOnHubError);
    expect(error).toBeInstanceOf(GreenfiberError);
    expect((error as BlockingOnHubError).code).toBe('GF_ERR_BLOCKING_ON_HUB');
    expect((error as Error).message).toMatch(/spawn\(/);
    expect((error as Error).message).toMatch(/main\(/);
  });
});

describe('sleep', () => {
  // gevent test__sleep0.py: sleep(0) yields, and the greenlet comes back
  it('sleep(0) yields to every other ready greenlet, round robin', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const worker = (name: string) => () => {
        for (let i = 0; i < 3; i++) {
          log.push(`${name}${i}`);
          sleep(0);
        }
      };
      joinAll([spawn(worker('a')), spawn(worker('b')), spawn(worker('c'))]);
    });
    expect(log).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
  });

  it('timers wake sleepers in deadline order', async () => {
    const log: number[] = [];
    await inGreenlet(() => {
      joinAll([150, 50, 100, 0].map((ms) => spawn(() => (sleep(ms), log.push(ms)))));
    });
    // Timers fire in deadline order however late the loop runs. sleep(0) comes back on the next hub
    // turn, which is first unless a preempted turn ran over its budget and a timer expired meanwhile.
    expect(log.filter((ms) => ms > 0)).toEqual([50, 100, 150]);
    expect(log).toContain(0);
  });

  // gevent test__hub.py TestSleep (AbstractGenericWaitTestCase): sleep waits at least its delay
  it('sleeps at least the time asked', async () => {
    const elapsed = await inGreenlet(() => {
      const start = performance.now();
      sleep(20);
      return performance.now() - start;
    });
    expect(elapsed).toBeGreaterThanOrEqual(19);
  });

  it('rejects a non-number and blocks only where blocking is allowed', async () => {
    await expect(inGreenlet(() => sleep('1' as never))).rejects.toThrow(TypeError);
    const error = await new Promise((resolve) => setImmediate(() => { try { sleep(1); resolve(undefined); } catch (e) { resolve(e); } }));
    expect(error).toBeInstanceOf(BlockingOnHubError);
  });
});

describe('idle', () => {
  it('returns once no other greenlet is ready to run', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const busy = spawn(() => {
        for (let i = 0; i < 5; i++) {
          log.push(`busy${i}`);
          sleep(0);
        }
      });
      idle();
      log.push('idle');
      busy.join();
    });
    expect(log).toEqual(['busy0', 'busy1', 'busy2', 'busy3', 'busy4', 'idle']);
  });
});

describe('error reporting', () => {
  it('hub.onError receives the greenlet and its error; GreenletExit is not reported', async () => {
    const seen: unknown[] = [];
    hub.onError = (greenlet, error) => seen.push([greenlet?.name, (error as Error).message]);
    await inGreenlet(() => {
      const failing = spawn(function failing() {
        throw new Error('bad');
      });
      const killed = spawn(() => sleep(1000));
      sleep(0);
      killed.kill();
      joinAll([failing, killed]);
    });
    expect(seen).toEqual([['failing', 'bad']]);
  });

  it('writes the report to stderr with the name, the stack and the spawn site; the process goes on', () => {
    const result = runFixture('hub-report.cjs');
    expect(result.stderr).toMatch(/Error: worker broke/);
    expect(result.stderr).toMatch(/at brokenWorker \(.*hub-report\.cjs:\d+/);
    expect(result.stderr).toMatch(/Greenlet "brokenWorker" #\d+ failed with Error/);
    expect(result.stderr).toMatch(/spawned at:\n\s+at .*hub-report\.cjs:\d+/);
    expect(result.stdout).toBe('after the failure\nexception: worker broke\n');
    expect(result.status).toBe(0);
  });

  it('labels the report of a hub callback and of a link callback running in its own fiber', () => {
    const result = runFixture('hub-report-links.cjs');
    expect(result.stderr).toMatch(/Error: rawlink broke[^]*\na hub callback failed with Error\n/);
    expect(result.stderr).toMatch(/Error: linkValue broke[^]*\nfiber "link of source" failed with Error\n/);
    expect(result.stderr).not.toMatch(/failed failed/);
    expect(result.stdout).toBe('after\n');
    expect(result.status).toBe(0);
  });

  it('hub.strict ends the process like an unhandled rejection', () => {
    const result = runFixture('hub-strict.cjs');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/strict failure/);
    expect(result.stdout).not.toMatch(/not reached/);
  });

  it('hub.strict applies to an async greenlet: its rejection is its error, reported once', () => {
    const result = runFixture('hub-strict-async.cjs');
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('reported failing async strict failure successful=false\nreports 1\n');
    expect(result.stderr).toMatch(/async strict failure/);
  });
});

describe('spawn() of an async function from a plain script (issue 9 item 8)', () => {
  it.each([
    ['joined', 'joined false x undefined\nget threw y false\n', 2],
    ['unjoined', 'exit true false z\n', 1],
    ['resolves', 'resolves 42 true 42\n', 0],
    ['worker', 'joined false x undefined\nget threw y false\nworker says done\nworker exit 0\n', 2],
  ])('%s: a rejection is the greenlet error, reported once; the process goes on', (mode, stdout, reports) => {
    const result = runFixture('spawn-async.cjs', [mode as string]);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    if (mode === 'worker') {
      // A worker's console output and its postMessage() reach the main thread on two different
      // ports, in either order; its exit comes last.
      const lines = result.stdout.trim().split('\n');
      const expected = (stdout as string).trim().split('\n');
      expect(lines.at(-1)).toBe(expected.at(-1));
      expect([...lines].sort()).toEqual([...expected].sort());
      expect(lines.indexOf('joined false x undefined')).toBeLessThan(lines.indexOf('get threw y false'));
    } else {
      expect(result.stdout).toBe(stdout);
    }
    expect(result.stderr.match(/ failed with Error/g) ?? []).toHaveLength(reports as number);
    expect(result.stderr).not.toMatch(/UnhandledPromiseRejection|unhandled/i);
  });
});

describe('a raw Fiber switched to from the top level that blocks', () => {
  it('makes the top level wait (driving the loop) until the fiber switches back, returns or throws', () => {
    const result = runFixture('hub-raw-fiber.cjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      'sleep done dead',
      'wait settled dead',
      'patched child dead',
      'thrower boom dead',
      'nested outer(inner) dead',
      'switch back first suspended',
      'switch again second dead',
      'greenlet meanwhile late after greenlet',
      'greenlet in greenlet',
      'stuck true true',
      // On the hub (a loop callback) the switch returns as soon as the fiber parks, as in greenlet.
      'callback undefined',
      'callback fiber finished',
    ]);
  });

  it('at an ES module top level the main fiber is the hub: the switch returns when the fiber parks', () => {
    const result = runFixture('hub-raw-fiber.mjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('top level undefined suspended\nfiber finished on the hub\nmain in main dead\n');
  });
});

describe("a worker's top level", () => {
  it.each([
    ['file', '["file",true,"promise","BlockingOnHubError"]'],
    ['eval', '["eval",true,"fiber"]'],
    // ES modules cannot drive the loop (as on the main thread): BlockingOnHubError naming main().
    ['esm', '["esm","BlockingOnHubError: true","in main"]'],
  ])('blocks like a main script (%s)', (mode, message) => {
    const result = runFixture('hub-worker-top.cjs', [mode]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${message}\nexit 0\n`);
  });
});

describe('runInfo', () => {
  it('lists every live greenlet with its spawn site and, when tracked, where it is parked', async () => {
    hub.trackParkedStacks = true;
    const report = await inGreenlet(() => {
      const event = new Event();
      const parked = spawn(function waitsForever() {
        event.wait();
      });
      parked.name = 'parked-one';
      const scheduled = spawn(() => undefined);
      scheduled.name = 'not-yet-started';
      sleep(0);
      const text = runInfo();
      parked.kill();
      return text;
    });
    expect(report).toMatch(/live greenlets/);
    expect(report).toMatch(/Greenlet "parked-one" #\d+: suspended/);
    expect(report).toMatch(/spawned at:\n\s+at .*hub\.test\.ts/);
    expect(report).toMatch(/parked at:\n(\s+at .*\n)*\s+at waitsForever/);
    expect(report).toMatch(/Greenlet "test" #\d+: running/);
  });

  it('says how to get parked stacks when they are not tracked', async () => {
    const report = await inGreenlet(() => {
      const parked = spawn(() => sleep(1000));
      sleep(0);
      const text = runInfo();
      parked.kill();
      return text;
    });
    expect(report).toMatch(/hub\.trackParkedStacks = true/);
  });
});

describe('hub.maxBlockingTime', () => {
  it('reports a greenlet that runs too long without yielding, while it runs and when it yields', () => {
    const result = runFixture('hub-monitor.cjs');
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/greenlet #\d+ has been running \d+ ms without yielding/);
    expect(result.stderr).toMatch(/Greenlet "hog" #\d+ ran \d+ ms without yielding \(hub\.maxBlockingTime is 50 ms\); it yielded at:\n\s+at .*hub-monitor\.cjs/);
    expect(result.stderr).toMatch(/Greenlet "finisher" #\d+ ran \d+ ms without yielding \(hub\.maxBlockingTime is 50 ms\); it ran until it finished/);
    expect(result.stderr.match(/has been running/g)).toHaveLength(2); // hog and finisher; not the idle hub
    expect(result.stderr).not.toMatch(/polite/);
    expect(result.stdout).toBe('done\n');
  });

  it('is off by default and rejects bad values', () => {
    expect(hub.maxBlockingTime).toBe(0);
    expect(() => {
      hub.maxBlockingTime = -1;
    }).toThrow(RangeError);
    expect(() => {
      hub.maxBlockingTime = '5' as never;
    }).toThrow(TypeError);
  });
});

describe('the top level of a CommonJS script', () => {
  it('runs spawn + sleep + joinAll like a gevent script, then the code after, then exits by itself', () => {
    const result = runFixture('hub-script.cjs');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(['tick ran', 'promise ran', 'worker 3 done', 'worker 2 done', 'worker 1 done', 'joined [1,2,3]', 'slept on top', 'end of script', 'timer after the script', ''].join('\n'));
    expect(result.status).toBe(0);
  });

  it('is not the top level of an ES module: blocking there throws BlockingOnHubError naming main()', () => {
    const result = runFixture('hub-esm.mjs');
    expect(result.stdout).toBe('BlockingOnHubError: true\nmain() slept\n');
    expect(result.status).toBe(0);
  });

  it('throws LoopExit when nothing could ever wake the top level', () => {
    const result = runFixture('hub-loopexit.cjs');
    expect(result.stdout).toMatch(/^LoopExit GF_ERR_LOOP_EXIT this operation would block forever/);
    expect(result.stdout).toMatch(/still alive after LoopExit\n$/);
    expect(result.status).toBe(0);
  });

  it('throws BlockingOnHubError from callbacks fired while the top level blocks, without re-entering the loop', () => {
    const result = runFixture('hub-nested.cjs');
    expect(result.stdout).toBe(['timer: BlockingOnHubError', 'tick: BlockingOnHubError', 'promise: BlockingOnHubError', 'top level woke', 'after the loop started: BlockingOnHubError', ''].join('\n'));
    expect(result.status).toBe(0);
  });
});
