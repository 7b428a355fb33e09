// local(): fiber-local storage. Cases ported from gevent's test__local.py.
import { afterEach, describe, expect, it } from 'vitest';
import { Fiber, joinAll, local, sleep, spawn } from '../dist/entries/index.js';
import { expectNoFiberLeft, inGreenlet } from './greenlet-helpers';
import { runFixture } from './helpers';

afterEach(expectNoFiberLeft);

describe('local', () => {
  // gevent test__local.py TestGeventLocal.test_local_opts_not_subclassed
  it('stores properties', () => {
    const l = local<{ attr?: number }>();
    l.attr = 1;
    expect(l.attr).toBe(1);
  });

  // gevent test__local.py TestGeventLocal.test_local_dicts_for_greenlet (each greenlet its own view)
  it('gives each greenlet its own properties, kept across switches', async () => {
    const l = local<{ name?: string }>();
    l.name = 'main';
    const seen = await inGreenlet(() => {
      const worker = (name: string) => () => {
        expect(l.name).toBeUndefined();
        l.name = name;
        sleep(1);
        return l.name;
      };
      const gs = ['a', 'b', 'c'].map((name) => spawn(worker(name)));
      joinAll(gs);
      return [gs.map((g) => g.value), l.name];
    });
    expect(seen).toEqual([['a', 'b', 'c'], undefined]);
    expect(l.name).toBe('main');
  });

  // gevent test__local.py TestGeventLocal.test_class_attr (defaults for every greenlet)
  it('init builds each fiber\'s initial properties on first use', async () => {
    let calls = 0;
    const l = local(() => ({ count: 0, id: ++calls }));
    l.count += 1;
    const other = await inGreenlet(() => {
      l.count += 5;
      return [l.count, l.id];
    });
    expect(other).toEqual([5, 2]);
    expect([l.count, l.id]).toEqual([1, 1]);
  });

  it('supports in, delete, Object.keys and works in raw fibers too', () => {
    const l = local<Record<string, number>>();
    l.x = 1;
    expect('x' in l).toBe(true);
    expect(Object.keys(l)).toEqual(['x']);
    expect({ ...l }).toEqual({ x: 1 });
    const inFiber = new Fiber(() => ['x' in l, (l.y = 2), Object.keys(l)]).switch();
    expect(inFiber).toEqual([false, 2, ['y']]);
    delete l.x;
    expect('x' in l).toBe(false);
  });

  // gevent test__local.py TestGeventLocal.test_create_local_subclass_init_args
  it('rejects a non-function init', () => {
    expect(() => local('foo' as never)).toThrow(TypeError);
  });
});

describe('local values of a dead greenlet', () => {
  it('are released when it dies, while the finished greenlet objects stay reachable (gevent #387)', () => {
    const result = runFixture('local-release.cjs', [], { nodeArgs: ['--expose-gc'] });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`greenlets 21 values 21 alive 0 results ${Array.from({ length: 20 }, (_, i) => i).join(',')}\n`);
  });
});
