// An error thrown by a loop callback (nextTick, timer) while the CommonJS top level blocks and
// drives the loop itself takes Node's uncaught-exception path: never out of the blocking call.
import { describe, expect, it } from 'vitest';
import { runFixture } from './helpers';

const cases = ['tick-join', 'tick-first', 'timer-tick', 'timer'];

describe('uncaught errors while the top level drives the loop', () => {
  for (const kind of cases) {
    it(`${kind}: an uncaughtException listener handles it and the top level goes on`, () => {
      for (const backend of ['tcb', 'thread']) {
        const result = runFixture('toplevel-uncaught.cjs', [kind, 'handler'], { env: { GREENFIBER_BACKEND: backend } });
        expect(result.stderr).toBe('');
        expect(result.stdout).toBe(`UNCAUGHT ${kind} err\nafter true\nafter2\n`);
        expect(result.status).toBe(0);
      }
    });

    it(`${kind}: without a listener Node prints it and exits 1`, () => {
      const result = runFixture('toplevel-uncaught.cjs', [kind, 'none']);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`Error: ${kind} err`);
      expect(result.stderr).not.toContain('async hook stack');
      expect(result.status).toBe(1);
    });

    it(`${kind}: the same at a worker's top level`, () => {
      const handled = runFixture('toplevel-uncaught.cjs', [kind, 'handler', 'worker']);
      expect(handled.stderr).toBe('');
      expect(handled.stdout).toBe(`UNCAUGHT ${kind} err\nafter true\nafter2\nworker exit 0\n`);
      expect(handled.status).toBe(0);
      const crashed = runFixture('toplevel-uncaught.cjs', [kind, 'none', 'worker']);
      expect(crashed.stdout).toBe(`worker error ${kind} err\nworker exit 1\n`);
      expect(crashed.status).toBe(0);
    });
  }
});
