// Type tests for an ES module consumer: `import` resolves every subpath through package.json
// "exports" (import condition → dist/entries/*.d.mts). Checked by vitest --typecheck, never run.
import { describe, expectTypeOf, test } from 'vitest';
import greenfiber, { spawn, Queue, type Greenlet } from 'greenfiber';
import { Fiber } from 'greenfiber/fiber';
import { Lock } from 'greenfiber/sync';
import { Pool, ThreadPool } from 'greenfiber/pool';
import { patchAll } from 'greenfiber/monkey';
import { StreamServer } from 'greenfiber/net';
import { get, type HttpResponse } from 'greenfiber/http';
import { resolve4 } from 'greenfiber/dns';

describe('ESM entry types', () => {
  test('named imports of every subpath are typed', () => {
    expectTypeOf(spawn((n: number) => n + 1, 1)).toEqualTypeOf<Greenlet<number>>();
    expectTypeOf(new Queue<string>().get()).toEqualTypeOf<string>();
    expectTypeOf(new Fiber(() => 1).switch()).not.toBeAny();
    expectTypeOf(new Lock().acquire()).toEqualTypeOf<boolean>();
    expectTypeOf(new Pool(1).map((s: string) => s.length, ['a'])).toEqualTypeOf<number[]>();
    expectTypeOf(ThreadPool).toBeConstructibleWith();
    expectTypeOf(patchAll).returns.toBeVoid();
    expectTypeOf(StreamServer).not.toBeAny();
    expectTypeOf(greenfiber.spawn).toEqualTypeOf(spawn);
    expectTypeOf(get('http://127.0.0.1:1/')).toEqualTypeOf<HttpResponse>();
    expectTypeOf(resolve4).returns.not.toBeAny();
    // @ts-expect-error arguments are checked through the ESM types too
    spawn((n: number) => n, 'x');
    // @ts-expect-error no such export
    void greenfiber.notAnExport;
  });
});
