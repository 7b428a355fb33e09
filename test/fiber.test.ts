// Fiber: greenlet semantics of switch/throw/parent, values both ways, misuse errors.
import { describe, expect, it } from 'vitest';
import { Fiber, FiberError, FiberExit, GreenfiberError } from '../dist/index.js';

describe('Fiber basics', () => {
  it('switches values both ways and reports its state', () => {
    const main = Fiber.current;
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
    expect(log).toEqual([['start', 1, true], ['resumed', 'y']]);
    expect(Fiber.current).toBe(main);
    expect(main.state).toBe('running');
  });
});
