// Fiber: greenlet semantics of switch/throw/parent, values both ways, misuse errors. Cases ported
// from greenlet's own suite name their source (greenlet src/greenlet/tests/test_greenlet.py).
import { afterEach, describe, expect, it } from 'vitest';
import { Fiber, FiberError, FiberExit, GreenfiberError, fiberStats } from '../dist/entries/index.js';
import * as fiberEntry from '../dist/entries/fiber.js';

const main = Fiber.current;

afterEach(() => {
  // Every test leaves no fiber started and not finished, and runs on the main fiber again.
  expect(Fiber.current).toBe(main);
  expect(fiberStats().started).toBe(0);
});

describe('switching', () => {
  it('switches values both ways and reports its state', () => {
    const log: unknown[] = [];
    const f = new Fiber((x: number) => {
      log.push(['start', x, Fiber.current === f]);
      const y = main.switch(x + 1);
      log.push(['resumed', y]);
      return 'done';
    }, { name: 'worker' });
    expect(f.started).toBe(false);
    expect(f.state).toBe('unstarted');
    expect(f.switch(1)).toBe(2);
    expect(f.state).toBe('suspended');
    expect(f.started).toBe(true);
    expect(f.dead).toBe(false);
    expect(f.switch('y')).toBe('done');
    expect(f.dead).toBe(true);
    expect(f.state).toBe('dead');
    expect(log).toEqual([['start', 1, true], ['resumed', 'y']]);
    expect(main.state).toBe('running');
  });

  it('Fiber.main is the thread itself and has no parent', () => {
    expect(Fiber.main).toBe(main);
    expect(main.parent).toBeUndefined();
    expect(main.name).toBe('main');
    expect(main.started).toBe(true);
    expect(main.dead).toBe(false);
  });

  // test_greenlet.py TestGreenlet.test_simple
  it('interleaves two lists of events (test_simple)', () => {
    const lst: number[] = [];
    const g = new Fiber(() => {
      lst.push(1);
      main.switch();
      lst.push(3);
    });
    lst.push(0);
    g.switch();
    lst.push(2);
    g.switch();
    lst.push(4);
    expect(lst).toEqual([0, 1, 2, 3, 4]);
  });

  // test_greenlet.py TestGreenlet.test_two_children
  it('runs two children in turn (test_two_children)', () => {
    const lst: string[] = [];
    const f = () => {
      lst.push('b');
      main.switch();
      lst.push('d');
    };
    const g = new Fiber(f);
    const h = new Fiber(f);
    g.switch();
    expect(lst).toEqual(['b']);
    h.switch();
    expect(lst).toEqual(['b', 'b']);
    g.switch();
    expect(lst).toEqual(['b', 'b', 'd']);
    h.switch();
    expect(lst).toEqual(['b', 'b', 'd', 'd']);
  });

  // test_greenlet.py TestGreenlet.test_two_recursive_children
  it('starts a fiber from inside a fiber (test_two_recursive_children)', () => {
    const lst: string[] = [];
    let inner: Fiber | undefined;
    const f1 = () => {
      lst.push('b');
      Fiber.current.parent!.switch();
    };
    const f2 = () => {
      lst.push('a');
      inner = new Fiber(f1);
      inner.switch();
      lst.push('x');
    };
    new Fiber(f2).switch();
    expect(lst).toEqual(['a', 'b', 'x']);
    // greenlet collects the abandoned child; here we unwind it explicitly (its parent is dead).
    expect(inner!.state).toBe('suspended');
    expect(inner!.throw()).toBeInstanceOf(FiberExit);
  });

  it('symmetric switches between siblings, without going through the parent', () => {
    const order: string[] = [];
    let b: Fiber;
    const a = new Fiber(() => {
      order.push('a1');
      b.switch();
      order.push('a2');
    });
    b = new Fiber(() => {
      order.push('b1');
      a.switch();
      order.push('b2');
    });
    a.switch(); // a1 -> b1 -> a2 -> a dies, returns to main
    expect(order).toEqual(['a1', 'b1', 'a2']);
    expect(a.dead).toBe(true);
    expect(b.dead).toBe(false);
    b.switch();
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2']);
  });

  it('passes any value, including undefined, objects and errors, by identity', () => {
    const token = { token: true };
    const error = new Error('not thrown, just passed');
    const f = new Fiber((first: unknown) => {
      const second = main.switch(first);
      const third = main.switch(second);
      return third;
    });
    expect(f.switch(token)).toBe(token);
    expect(f.switch(error)).toBe(error);
    expect(f.switch(undefined)).toBeUndefined();
  });
});

describe('finishing and errors', () => {
  // test_greenlet.py TestGreenlet.test_exception
  it('raises a fiber\'s uncaught error in its parent (test_exception)', () => {
    const g = new Fiber(() => {
      throw new SyntaxError('from child');
    });
    expect(() => g.switch()).toThrow(SyntaxError);
    expect(g.dead).toBe(true);
  });

  // test_greenlet.py TestGreenlet.test_send_exception
  it('throws into a suspended fiber at its suspension point (test_send_exception)', () => {
    const seen: unknown[] = [];
    const g = new Fiber(() => {
      try {
        main.switch('parked');
      } catch (error) {
        seen.push(error);
        return 'handled';
      }
      return 'not reached';
    });
    g.switch();
    const error = new TypeError('sent');
    expect(g.throw(error)).toBe('handled');
    expect(seen).toEqual([error]);
  });

  it('throw() defaults to FiberExit, which unwinds and is returned to the parent', () => {
    const log: string[] = [];
    const g = new Fiber(() => {
      try {
        main.switch();
      } finally {
        log.push('finally');
      }
    });
    g.switch();
    const result = g.throw();
    expect(result).toBeInstanceOf(FiberExit);
    expect(log).toEqual(['finally']);
    expect(g.dead).toBe(true);
  });

  it('a fiber that swallows FiberExit ends normally with its own return value', () => {
    const g = new Fiber(() => {
      try {
        main.switch();
      } catch (error) {
        if (!(error instanceof FiberExit)) throw error;
      }
      return 'cleaned up';
    });
    g.switch();
    expect(g.throw(new FiberExit())).toBe('cleaned up');
  });

  // test_greenlet.py TestGreenlet.test_throw_into_unstarted (greenlet: an unstarted greenlet dies without running)
  it('throwing into an unstarted fiber kills it without running fn', () => {
    let ran = false;
    const g = new Fiber(() => {
      ran = true;
    });
    expect(g.throw()).toBeInstanceOf(FiberExit);
    expect(ran).toBe(false);
    expect(g.dead).toBe(true);
    const h = new Fiber(() => {
      ran = true;
    });
    expect(() => h.throw(new RangeError('early'))).toThrow(RangeError);
    expect(ran).toBe(false);
  });

  // test_greenlet.py TestGreenlet.test_throw_goes_to_original_parent
  it('a finished fiber returns to its parent, not to whoever switched to it last', () => {
    let child: Fiber;
    const parent = new Fiber(() => {
      child = new Fiber(() => {
        main.switch('child parked');
        return 'child result';
      });
      const fromChild = child.switch();
      const final = main.switch(fromChild);
      return `parent got ${final}`;
    });
    expect(parent.switch()).toBe('child parked');
    // main resumes the child directly; when it finishes, its value goes to `parent` (resumed inside
    // its child.switch()), which passes it on to main.
    expect(child!.switch()).toBe('child result');
    expect(child!.dead).toBe(true);
    expect(parent.switch('final')).toBe('parent got final');
    expect(parent.dead).toBe(true);
  });

  // test_greenlet.py TestGreenlet.test_parent_return_failure / dead parents are skipped
  it('skips dead ancestors when returning', () => {
    let grandchild: Fiber;
    const child = new Fiber(() => {
      grandchild = new Fiber(() => {
        main.switch('gc parked');
        return 'to grandparent';
      });
      return grandchild.switch(); // child finishes after grandchild parks
    });
    expect(child.switch()).toBe('gc parked');
    grandchild!.switch(); // returns the value to main: grandchild's parent (child) is dead
    expect(child.dead).toBe(true);
    expect(grandchild!.dead).toBe(true);
  });

  it('the parent option and setter redirect where a fiber returns', () => {
    const collector = new Fiber(() => {
      const got = main.switch('collector ready');
      return `collector got ${got}`;
    });
    collector.switch();
    const worker = new Fiber(() => 'worker result', { parent: collector });
    expect(worker.parent).toBe(collector);
    expect(worker.switch()).toBe('collector got worker result');
    const other = new Fiber(() => 'x');
    other.parent = main;
    expect(other.switch()).toBe('x');
  });
});

describe('misuse gets a clear error', () => {
  it('new Fiber(notAFunction) is a TypeError naming the argument', () => {
    for (const bad of [42, 'code', null, undefined, {}]) {
      expect(() => new Fiber(bad as never)).toThrow(TypeError);
    }
    expect(() => new Fiber(42 as never)).toThrow(/Expected a function for fn but received a number 42/);
    expect(() => new Fiber(() => 1, { name: 7 as never })).toThrow(/options\.name/);
    expect(() => new Fiber(() => 1, null as never)).toThrow(/options/);
  });

  // test_greenlet.py TestGreenlet.test_switch_to_dead_greenlet (greenlet returns to the parent; we raise)
  it('switching to a dead fiber throws FiberError', () => {
    const f = new Fiber(() => 1);
    f.switch();
    expect(() => f.switch()).toThrow(FiberError);
    expect(() => f.throw()).toThrow(/is dead/);
    try {
      f.switch();
    } catch (error) {
      expect(error).toBeInstanceOf(GreenfiberError);
      expect((error as FiberError).code).toBe('GF_ERR_FIBER');
      expect((error as FiberError).name).toBe('FiberError');
    }
  });

  it('switching to the running fiber throws FiberError, from main and from a fiber', () => {
    expect(() => main.switch()).toThrow(/already running/);
    const f = new Fiber(() => {
      try {
        Fiber.current.switch();
        return 'no error';
      } catch (error) {
        return error;
      }
    });
    const result = f.switch();
    expect(result).toBeInstanceOf(FiberError);
  });

  it('a parent chain cycle is refused', () => {
    const a = new Fiber(() => 1);
    const b = new Fiber(() => 2, { parent: a });
    expect(() => {
      a.parent = b;
    }).toThrow(FiberError);
    expect(() => {
      a.parent = a;
    }).toThrow(/cyclic/);
    expect(() => {
      a.parent = 'main' as never;
    }).toThrow(TypeError);
  });

  it('a failed switch changes nothing: the target can still be started', () => {
    const f = new Fiber((x: number) => x * 2);
    expect(() => f.switch.call({} as never, 1)).toThrow(TypeError);
    expect(f.started).toBe(false);
    expect(f.switch(21)).toBe(42);
  });

  it('FiberExit is control flow, not a GreenfiberError', () => {
    expect(new FiberExit()).not.toBeInstanceOf(GreenfiberError);
    expect(new FiberError()).toBeInstanceOf(GreenfiberError);
  });
});

describe('entry points', () => {
  it('greenfiber/fiber exports the same Fiber as the package root', () => {
    expect(fiberEntry.Fiber).toBe(Fiber);
    expect(fiberEntry.FiberError).toBe(FiberError);
  });

  it('reuses the threads of finished fibers', () => {
    for (let i = 0; i < 50; i++) new Fiber(() => i).switch();
    const before = fiberStats().threads;
    for (let i = 0; i < 200; i++) new Fiber(() => i).switch();
    expect(fiberStats().threads).toBe(before);
  });
});
