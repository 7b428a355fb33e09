// Greenlet: lifecycle, results, links, kill semantics, joinAll/killAll, spawnLater, promise(),
// disposal. Cases ported from gevent's test__greenlet.py, test__joinall.py and test__greenletset.py.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  Fiber,
  FiberExit,
  Greenlet,
  GreenletExit,
  Timeout,
  getCurrent,
  hub,
  joinAll,
  killAll,
  main,
  sleep,
  spawn,
  spawnLater,
  wait,
} from '../dist/entries/index.js';
import { expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

class ExpectedError extends Error {}

let reported: Array<[string | undefined, unknown]> = [];
beforeEach(() => {
  reported = [];
  hub.onError = (greenlet, error) => reported.push([greenlet?.name, error]);
});
afterEach(async () => {
  hub.onError = undefined;
  await expectNoFiberLeft();
});

describe('spawn and the lifecycle', () => {
  // gevent test__greenlet.py TestBasic.test_spawn_non_callable
  it('refuses a non-function', () => {
    expect(() => spawn(1 as never)).toThrow(TypeError);
    expect(() => new Greenlet(undefined as never)).toThrow(/Expected a function for fn/);
  });

  // gevent test__greenlet.py TestBasic.test_simple_exit
  it('goes through the states of a greenlet that returns', async () => {
    const linked: unknown[] = [];
    await inGreenlet(() => {
      const g = new Greenlet((delay: number, value: number) => {
        sleep(delay);
        return value;
      }, 20, 5);
      g.rawlink((x) => linked.push(x));
      expect([g.dead, g.started, g.ready(), g.successful(), g.value, g.exception]).toEqual([false, false, false, false, undefined, undefined]);
      g.start();
      expect([g.dead, g.started, g.ready(), g.successful(), g.value]).toEqual([false, true, false, false, undefined]);
      sleep(0); // after g's start callback: g runs until it sleeps
      expect([g.dead, g.started, g.ready(), g.state]).toEqual([false, true, false, 'suspended']);
      expect(linked).toEqual([]);
      g.join();
      expect([g.dead, g.started, g.ready(), g.successful(), g.value, g.exception, g.state]).toEqual([true, false, true, true, 5, undefined, 'dead']);
      expect(linked).toEqual([g]);
    });
  });

  // gevent test__greenlet.py TestBasic.test_error_exit
  it('stores the error of a greenlet that throws, reports it, and the hub goes on', async () => {
    await inGreenlet(() => {
      const error = new ExpectedError('test_error_exit');
      const g = spawn(function failing() {
        sleep(1);
        throw error;
      });
      g.join();
      expect([g.dead, g.started, g.ready(), g.successful(), g.value, g.exception]).toEqual([true, false, true, false, undefined, error]);
      expect(() => g.get()).toThrow(error);
    });
    expect(reported.map(([name, e]) => [name, (e as Error).message])).toEqual([['failing', 'test_error_exit']]);
  });

  it('starts on the next hub turn, in spawn order, as the current fiber with the hub as parent', async () => {
    const log: unknown[] = [];
    await inGreenlet(() => {
      const a: Greenlet<number> = spawn(() => log.push(['a', getCurrent() === a, a.parent === Fiber.main]));
      const b = spawn((x: number, y: number) => log.push(['b', x, y]), 1, 2);
      log.push('spawned');
      joinAll([a, b]);
    });
    expect(log).toEqual(['spawned', ['a', true, true], ['b', 1, 2]]);
  });

  it('names greenlets after their function, or Greenlet-<id>', () => {
    const named = new Greenlet(function crawler() {});
    const anonymous = new Greenlet(() => {});
    expect(named.name).toBe('crawler');
    expect(anonymous.name).toBe(`Greenlet-${anonymous.id}`);
    expect(String(named)).toMatch(/^<Greenlet "crawler" #\d+ unstarted>$/);
  });

  // gevent test__greenlet.py TestStart.test_start
  it('cannot be started twice', async () => {
    let runs = 0;
    await inGreenlet(() => {
      const g = spawn(() => runs++);
      g.start();
      g.join();
      g.start();
      sleep(0);
      expect(g.dead).toBe(true);
    });
    expect(runs).toBe(1);
  });

  it('spawnLater starts after the delay, in deadline order', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const late = spawnLater(60, () => log.push('late'));
      const early = spawnLater(30, () => log.push('early'));
      const now = spawn(() => log.push('now'));
      expect(late.started).toBe(true);
      joinAll([late, early, now]);
    });
    expect(log).toEqual(['now', 'early', 'late']);
  });

  it('get() returns the value, raises the error, or raises Timeout when asked not to wait', async () => {
    await inGreenlet(() => {
      const slow = spawn(() => (sleep(20), 'slow'));
      expect(() => slow.get({ block: false })).toThrow(Timeout);
      let timedOut: unknown;
      try {
        slow.get({ timeout: 1 });
      } catch (error) {
        timedOut = error;
      }
      expect(timedOut).toBeInstanceOf(Timeout);
      expect(slow.get()).toBe('slow');
      const failing = spawn(() => {
        throw new ExpectedError('get');
      });
      expect(() => failing.get()).toThrow(ExpectedError);
    });
  });

  it('join(timeout) returns whether it finished, without raising its error', async () => {
    await inGreenlet(() => {
      const g = spawn(() => {
        sleep(20);
        throw new ExpectedError('ignored by join');
      });
      expect(g.join(1)).toBe(false);
      expect(g.join()).toBe(true);
      expect(g.exception).toBeInstanceOf(ExpectedError);
    });
  });

  it('promise() settles with the outcome for async code', async () => {
    const ok = spawn(() => (sleep(1), 42));
    await expect(ok.promise()).resolves.toBe(42);
    const bad = spawn(() => {
      throw new ExpectedError('async');
    });
    await expect(bad.promise()).rejects.toThrow('async');
    expect(ok.promise()).toBe(ok.promise());
  });
});

describe('a function that returns a thenable (async functions)', () => {
  it('the greenlet waits for it and takes its value', async () => {
    const value = await inGreenlet(() => {
      const g = spawn(async (a: number, b: number) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return a + b;
      }, 20, 22);
      expect(g.ready()).toBe(false);
      return g.get();
    });
    expect(value).toBe(42);
  });

  it('takes a rejection as its error: not successful, reported once, no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): number => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const g = spawn(async () => {
        throw new ExpectedError('x');
      });
      await expect(g.promise()).rejects.toThrow('x');
      expect(g.successful()).toBe(false);
      expect((g.exception as Error).message).toBe('x');
      expect(g.value).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(reported.map(([name, e]) => [name, (e as Error).message])).toEqual([[g.name, 'x']]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('also takes the outcome of any thenable, and joinAll/wait see the settled outcome', async () => {
    const results = await inGreenlet(() => {
      const thenable = { then: (resolve: (value: string) => void) => setTimeout(resolve, 1, 'thenable') };
      const a = spawn(() => thenable);
      const b = spawn(() => Promise.resolve('promise'));
      joinAll([a, b]);
      return [a.value, b.value, wait(a)];
    });
    expect(results).toEqual(['thenable', 'promise', 'thenable']);
  });

  it('kill() while it waits on the thenable ends it with GreenletExit; a later rejection is not reported', async () => {
    let reject!: (error: Error) => void;
    const g = spawn(() => new Promise((_resolve, rejectPromise) => (reject = rejectPromise)));
    await inGreenlet(() => {
      sleep(1);
      expect(g.ready()).toBe(false);
      g.kill();
    });
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    reject(new ExpectedError('too late'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(reported).toEqual([]);
  });

  it('main() of an async function resolves with its value', async () => {
    await expect(
      main(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return 'main';
      }),
    ).resolves.toBe('main');
  });
});

describe('links', () => {
  // gevent test__greenlet.py TestReturn_link.test_return, TestReturn_link_value
  it('link and linkValue run once the greenlet returns; linkException does not', async () => {
    const log: unknown[] = [];
    await inGreenlet(() => {
      const p = spawn(() => 25);
      const result = new AsyncResult();
      p.link((g) => result.set(g.value));
      p.linkValue((g) => log.push(['value', g.value]));
      p.linkException(() => log.push('exception?!'));
      p.rawlink((g) => log.push(['raw', g === p]));
      expect(result.get()).toBe(25);
      sleep(1);
      // linked after it finished: still called
      p.link(() => log.push('late link'));
      sleep(1);
    });
    expect(log).toEqual([['value', 25], ['raw', true], 'late link']);
  });

  // gevent test__greenlet.py TestRaise_link.test_raise, TestRaise_link_exception
  it('link and linkException run once the greenlet raises; linkValue does not', async () => {
    const log: unknown[] = [];
    await inGreenlet(() => {
      const p = spawn(() => {
        throw new ExpectedError('test_raise');
      });
      p.link((g) => log.push(['link', (g.exception as Error).message]));
      p.linkException((g) => log.push(['exception', (g.exception as Error).message]));
      p.linkValue(() => log.push('value?!'));
      p.join();
      sleep(1);
    });
    expect(log).toEqual([['link', 'test_raise'], ['exception', 'test_raise']]);
  });

  // gevent test__greenlet.py TestReturn_link.test_kill
  it('a killed greenlet notifies link and linkValue with its GreenletExit', async () => {
    const values: unknown[] = [];
    await inGreenlet(() => {
      const p = spawn(() => sleep(1000));
      p.linkValue((g) => values.push(g.value));
      sleep(0);
      p.kill();
      sleep(1);
    });
    expect(values).toHaveLength(1);
    expect(values[0]).toBeInstanceOf(GreenletExit);
  });

  // gevent test__greenlet.py TestUnlink.test_func_link / test_func_link_value / test_func_link_exception
  it('unlink removes a callback of any kind', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const p = spawn(() => sleep(1));
      const cb = (): number => log.push('called');
      p.link(cb);
      p.linkValue(cb);
      p.linkException(cb);
      p.rawlink(cb);
      for (let i = 0; i < 4; i++) p.unlink(cb);
      p.unlink(() => undefined); // not linked: a no-op
      p.join();
      sleep(1);
    });
    expect(log).toEqual([]);
  });

  it('link callbacks run in a fiber of their own, so they may block; their errors are reported', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const p = spawn(() => 1);
      p.link(() => {
        sleep(2);
        log.push('blocked in a link');
      });
      p.link(() => {
        throw new ExpectedError('link failed');
      });
      p.join();
      sleep(10);
    });
    expect(log).toEqual(['blocked in a link']);
    expect(reported.map(([, e]) => (e as Error).message)).toEqual(['link failed']);
  });
});

describe('kill', () => {
  // gevent test__greenlet.py TestKill (block / non-block / killall, on an unstarted greenlet)
  for (const [label, start] of [
    ['not started', (_g: Greenlet) => undefined],
    ['scheduled (TestKillAfterStart)', (g: Greenlet) => g.start()],
    ['scheduled later (TestKillAfterStartLater)', (g: Greenlet) => g.startLater(50)],
  ] as const) {
    for (const block of [true, false]) {
      for (const useKillAll of [false, true]) {
        it(`a greenlet ${label} never runs (block ${block}, ${useKillAll ? 'killAll' : 'kill'})`, async () => {
          const ran: number[] = [];
          const linked: unknown[] = [];
          await inGreenlet(() => {
            const g = new Greenlet(() => ran.push(1));
            g.link((x) => linked.push(x));
            start(g);
            const kill = (): void => (useKillAll ? killAll([g], { block }) : g.kill(undefined, { block }));
            kill();
            if (!block) sleep(1);
            expect([g.dead, g.started, g.ready(), g.successful()]).toEqual([true, false, true, true]);
            expect(g.value).toBeInstanceOf(GreenletExit);
            kill(); // killing again must not hurt
            // Links run on a later hub turn: wait for it by turns, not by time (a 5 ms sleep can
            // end before the turn on a loaded machine), then once more to see it ran only once.
            for (let turn = 0; turn < 1000 && linked.length === 0; turn++) sleep(1);
            sleep(5);
            expect(g.value).toBeInstanceOf(GreenletExit);
            expect(linked).toEqual([g]);
          });
          expect(ran).toEqual([]);
        });
      }
    }
  }

  // gevent test__greenlet.py TestKill.test_non_type_exception / test_non_exc_exception
  it('killing with another error makes the greenlet fail with it', async () => {
    const error = new ExpectedError('non-exit');
    await inGreenlet(() => {
      const unstarted = spawn(() => sleep(1000));
      unstarted.kill(error);
      expect(unstarted.successful()).toBe(false);
      expect(unstarted.exception).toBe(error);
      const running = spawn(() => sleep(1000));
      sleep(0);
      running.kill(42);
      expect(running.exception).toBe(42);
    });
    expect(reported.map(([, e]) => e)).toEqual([error, 42]);
  });

  // gevent test__greenlet.py TestKillWhileRunning
  it('raises GreenletExit at the suspension point; finally blocks run; the rest never does', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const g = spawn(() => {
        try {
          sleep(10_000);
          log.push('after sleep?!');
        } catch (error) {
          log.push(`caught ${(error as Error).name}`);
          throw error;
        } finally {
          log.push('finally');
        }
      });
      sleep(0);
      g.kill();
      expect(g.dead).toBe(true);
      expect(g.value).toBeInstanceOf(GreenletExit);
      expect(g.value).toBeInstanceOf(FiberExit);
    });
    expect(log).toEqual(['caught GreenletExit', 'finally']);
  });

  it('kill({ block: false }) returns at once; the greenlet dies on the next hub turn', async () => {
    await inGreenlet(() => {
      const g = spawn(() => sleep(10_000));
      sleep(0);
      g.kill(undefined, { block: false });
      expect(g.dead).toBe(false);
      g.join();
      expect(g.dead).toBe(true);
    });
  });

  it('a greenlet that swallows GreenletExit keeps going and can be killed again', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const g = spawn(() => {
        try {
          sleep(10_000);
        } catch {
          log.push('swallowed');
        }
        sleep(10_000);
        log.push('never');
      });
      sleep(0);
      g.kill(undefined, { timeout: 5 });
      expect(g.dead).toBe(false);
      expect(log).toEqual(['swallowed']);
      g.kill();
      expect(g.dead).toBe(true);
    });
    expect(log).toEqual(['swallowed']);
  });

  it('killing a dead greenlet is a no-op; a greenlet may kill itself', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const done = spawn(() => 1);
      done.join();
      done.kill(new ExpectedError('too late'));
      expect(done.value).toBe(1);
      const suicidal = spawn(() => {
        try {
          suicidal.kill();
        } finally {
          log.push('unwound');
        }
        log.push('never');
      });
      suicidal.join();
      expect(suicidal.value).toBeInstanceOf(GreenletExit);
    });
    expect(log).toEqual(['unwound']);
  });

  it('Symbol.dispose kills it at scope end (`using g = spawn(…)`)', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const g = spawn(() => {
        try {
          sleep(10_000);
        } finally {
          log.push('disposed');
        }
      });
      sleep(0);
      g[Symbol.dispose]();
      expect(g.dead).toBe(true);
    });
    // From a plain callback it cannot wait, so it kills without blocking.
    const h = spawn(() => sleep(10_000));
    await new Promise((resolve) => setTimeout(resolve, 1));
    h[Symbol.dispose]();
    await h.promise();
    expect(h.value).toBeInstanceOf(GreenletExit);
    expect(log).toEqual(['disposed']);
  });
});

describe('joinAll and killAll', () => {
  // gevent test__joinall.py Test.test
  it('joins greenlets and returns those that finished', async () => {
    await inGreenlet(() => {
      const a = spawn(() => sleep(1));
      const b = spawn(() => sleep(5));
      expect(new Set(joinAll([a, b]))).toEqual(new Set([a, b]));
      expect(joinAll([])).toEqual([]);
    });
  });

  it('returns them in the order they finished, honouring count and timeout', async () => {
    await inGreenlet(() => {
      const slow = spawn(() => sleep(40));
      const fast = spawn(() => sleep(1));
      const never = spawn(() => sleep(10_000));
      expect(joinAll([slow, fast, never], { count: 1 })).toEqual([fast]);
      expect(joinAll([slow, fast, never], { timeout: 400 })).toEqual([fast, slow]);
      never.kill();
    });
  });

  // gevent test__greenlet.py TestStuff.test_wait_noerrors
  it('raiseError with no errors returns every greenlet', async () => {
    await inGreenlet(() => {
      const gs = [1, 2, 3].map((n) => spawn(() => n));
      joinAll(gs, { raiseError: true });
      expect(gs.map((g) => g.value)).toEqual([1, 2, 3]);
    });
  });

  // gevent test__greenlet.py TestStuff.test_wait_error and test_joinall_exception_order
  it('raiseError throws the first error seen', async () => {
    await inGreenlet(() => {
      const x = spawn(() => (sleep(10), 1));
      const first = spawn(() => {
        sleep(20);
        throw new ExpectedError('first');
      });
      const second = spawn(() => {
        throw new ExpectedError('second');
      });
      expect(() => joinAll([x, first, second], { raiseError: true })).toThrow('second');
      expect(() => joinAll([second], { raiseError: true })).toThrow('second');
      joinAll([x, first]);
    });
  });

  // gevent test__greenlet.py TestStuff.test_joinall_count_raise_error
  it('count still applies without raiseError when greenlets fail', async () => {
    await inGreenlet(() => {
      const raises = spawn(() => {
        throw new ExpectedError('count');
      });
      const sleeps = spawn(() => sleep(10_000));
      expect(joinAll([raises, sleeps], { count: 1 })).toEqual([raises]);
      sleeps.kill();
    });
  });

  // gevent test__greenletset.py Test.test_killall_iterable_argument_timeout_started
  it('killAll with a timeout raises Timeout when a greenlet will not die', async () => {
    await inGreenlet(() => {
      const undead = spawn(() => {
        for (;;) {
          try {
            sleep(10_000);
          } catch (error) {
            if (error instanceof GreenletExit) break;
          }
        }
      });
      const stubborn = spawn(() => {
        try {
          sleep(10_000);
        } catch {
          sleep(50); // takes its time to die
        }
      });
      sleep(0);
      expect(() => killAll([stubborn], { timeout: 5 })).toThrow(Timeout);
      killAll([undead, stubborn]);
      expect([undead.dead, stubborn.dead]).toEqual([true, true]);
    });
  });

  // gevent test__greenletset.py Test.test_killall_iterable_argument_non_block
  it('killAll accepts any iterable and { block: false }', async () => {
    await inGreenlet(() => {
      const gs = new Set([spawn(() => sleep(10_000)), spawn(() => sleep(10_000))]);
      sleep(0);
      killAll(gs, { block: false });
      expect([...gs].some((g) => g.dead)).toBe(false);
      joinAll(gs);
      expect([...gs].every((g) => (g.value as unknown) instanceof GreenletExit)).toBe(true);
    });
  });
});
