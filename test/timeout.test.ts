// Timeout and withTimeout: raising in the fiber that started it, at its blocking point. Cases
// ported from gevent's test__timeout.py.
import { afterEach, describe, expect, it } from 'vitest';
import { Event, GreenfiberError, Timeout, Waiter, sleep, spawn, withTimeout } from '../dist/entries/index.js';
import { runFixture } from './helpers';
import { expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

afterEach(expectNoFiberLeft);

/** Blocks until something is raised in; returns what was. */
function parkForever(): unknown {
  try {
    new Waiter().get();
  } catch (error) {
    return error;
  }
  throw new Error('parkForever() returned');
}

describe('Timeout', () => {
  // gevent test__timeout.py TestDirectRaise.test_direct_raise_instance
  it('is a control-flow exception that can be thrown directly and is not pending', () => {
    const timeout = new Timeout();
    try {
      throw timeout;
    } catch (error) {
      expect(error).toBe(timeout);
      expect(timeout.pending).toBe(false);
    }
    expect(timeout).toBeInstanceOf(Error);
    expect(timeout).not.toBeInstanceOf(GreenfiberError);
    expect(timeout.name).toBe('Timeout');
  });

  // gevent test__timeout.py Test.test_expires (including the restart)
  it('raises itself in the greenlet that started it, and can be started again', async () => {
    await inGreenlet(() => {
      const timeout = new Timeout(5);
      timeout.start();
      expect(timeout.pending).toBe(true);
      expect(parkForever()).toBe(timeout);
      expect(timeout.pending).toBe(false);
      timeout.start();
      expect(parkForever()).toBe(timeout);
    });
  });

  // gevent test__timeout.py Test.test_expires_false / test_expires_str
  it('raises itself for a boolean or string error; a string ends the message', async () => {
    await inGreenlet(() => {
      const silent = Timeout.start(2, false);
      expect(parkForever()).toBe(silent);
      const labelled = Timeout.start(2, 'XXX');
      const raised = parkForever();
      expect(raised).toBe(labelled);
      expect((raised as Error).message.endsWith('XXX')).toBe(true);
    });
  });

  it('raises the error it was given instead of itself', async () => {
    await inGreenlet(() => {
      const error = new RangeError('custom');
      Timeout.start(2, error);
      expect(parkForever()).toBe(error);
    });
  });

  // gevent test__timeout.py Test.test_cancel
  it('cancel() stops it; cancel is idempotent', async () => {
    await inGreenlet(() => {
      const timeout = Timeout.start(2);
      timeout.cancel();
      timeout.cancel();
      sleep(10);
      expect(timeout.pending).toBe(false);
    });
  });

  // gevent test__timeout.py Test.test_context_manager (as `using`)
  it('Symbol.dispose cancels it', async () => {
    await inGreenlet(() => {
      const timeout = Timeout.start(5);
      timeout[Symbol.dispose]();
      sleep(10);
      expect(timeout.pending).toBe(false);
    });
  });

  it('raises at the next blocking point if the greenlet was busy when it expired', async () => {
    const log: string[] = [];
    await inGreenlet(() => {
      const timeout = Timeout.start(1);
      const until = Date.now() + 10;
      while (Date.now() < until); // busy, not blocking: the timer cannot fire yet
      log.push('still running');
      expect(parkForever()).toBe(timeout);
    });
    expect(log).toEqual(['still running']);
  });

  it('interrupts only its own greenlet', async () => {
    await inGreenlet(() => {
      const event = new Event();
      const other = spawn(() => event.wait(1000));
      const timeout = Timeout.start(5);
      expect(parkForever()).toBe(timeout);
      expect(other.dead).toBe(false);
      event.set();
      expect(other.get()).toBe(true);
    });
  });

  it('startNewOrDummy(undefined) never fires and costs nothing to cancel', async () => {
    await inGreenlet(() => {
      const dummy = Timeout.startNewOrDummy(undefined);
      expect(Timeout.startNewOrDummy(null)).toBe(dummy);
      expect(dummy.pending).toBe(false);
      sleep(2);
      dummy.cancel();
      const real = Timeout.startNewOrDummy(1);
      expect(parkForever()).toBe(real);
    });
  });

  it('rejects a bad delay', () => {
    expect(() => Timeout.start(Number.NaN)).toThrow(RangeError);
    expect(() => new Timeout('5' as never)).toThrow(TypeError);
    expect(() => new Timeout('5' as never)).toThrow(/Expected a number of milliseconds .*for ms but received a string "5"/);
  });

  // The rule for times: a negative delay is 0, already due (gevent's libev timers do the same).
  it('takes a negative delay as 0: it expires at the first blocking point', async () => {
    await inGreenlet(() => {
      const timeout = Timeout.start(-5);
      expect(timeout.ms).toBe(0);
      try {
        sleep(1000);
        expect.unreachable('the Timeout should have expired');
      } catch (error) {
        expect(error).toBe(timeout);
      } finally {
        timeout.cancel();
      }
    });
  });

  it('a 0 ms or negative Timeout raises at sleep(0) too, every time; withTimeout returns its default', async () => {
    await inGreenlet(() => {
      for (let i = 0; i < 50; i++) {
        for (const ms of [0, -1, -100]) {
          const timeout = Timeout.start(ms);
          let raised: unknown;
          try {
            sleep(0);
          } catch (error) {
            raised = error;
          } finally {
            timeout.cancel();
          }
          expect(raised).toBe(timeout);
          expect(withTimeout(ms, () => { sleep(0); return 'ran to end'; }, { default: 'timed out' })).toBe('timed out');
        }
      }
      // Cancelled before any blocking point: nothing is raised later.
      Timeout.start(0).cancel();
      sleep(0);
      sleep(1);
    });
  });
});

describe('withTimeout', () => {
  // gevent test__timeout.py Test.test_with_timeout
  it('raises the Timeout, or returns the default when given one', async () => {
    await inGreenlet(() => {
      expect(() => withTimeout(2, () => sleep(50))).toThrow(Timeout);
      const marker = {};
      expect(withTimeout(2, () => sleep(50), { default: marker })).toBe(marker);
      expect(withTimeout(50, () => (sleep(2), 'done'), { default: marker })).toBe('done');
      expect(withTimeout(5, () => 'sync')).toBe('sync');
    });
  });

  it('lets an inner timeout of its own propagate to its owner only', async () => {
    await inGreenlet(() => {
      const inner = new Timeout(2);
      const result = withTimeout(
        100,
        () => {
          inner.start();
          try {
            sleep(50);
          } catch (error) {
            if (error !== inner) throw error;
            return 'inner fired';
          } finally {
            inner.cancel();
          }
          return 'no timeout';
        },
        { default: 'outer fired' },
      );
      expect(result).toBe('inner fired');
    });
  });

  it('works at the top level of a CommonJS script', () => {
    const result = runFixture('hub-timeout.cjs');
    expect(result.stdout).toBe('default\nTimeout true\nend\n');
    expect(result.status).toBe(0);
  });
});
