// Type tests for a CommonJS consumer (a .cts file: its imports compile to require(), so they resolve
// through the require condition of package.json "exports", dist/entries/*.d.ts). Checked by vitest
// --typecheck, never run. Vitest cannot parse .cts to collect its tests, so vitest.config.mts leaves it
// out of typecheck.include; tsc still checks it (tsconfig.typetest.json includes it) and any error in it
// fails `npm test` as a source error.
import { describe, expectTypeOf, test } from 'vitest';
import * as greenfiber from 'greenfiber';
import * as fiber from 'greenfiber/fiber';
import * as sync from 'greenfiber/sync';
import * as pool from 'greenfiber/pool';
import * as monkey from 'greenfiber/monkey';
import * as net from 'greenfiber/net';
import * as http from 'greenfiber/http';
import * as dns from 'greenfiber/dns';

describe('CommonJS entry types', () => {
  test('require of every subpath is typed', () => {
    expectTypeOf(greenfiber.spawn(() => 'x').get()).toEqualTypeOf<string>();
    expectTypeOf(fiber.Fiber).toEqualTypeOf(greenfiber.Fiber);
    expectTypeOf(new sync.Queue<number>().get()).toEqualTypeOf<number>();
    expectTypeOf(new pool.Pool(2).map((n: number) => n > 1, [1, 2])).toEqualTypeOf<boolean[]>();
    expectTypeOf(monkey.unpatchAll).returns.toBeVoid();
    expectTypeOf(net.connect).returns.toEqualTypeOf<net.Socket>();
    expectTypeOf(http.get('http://127.0.0.1:1/')).toEqualTypeOf<http.HttpResponse>();
    expectTypeOf(dns.lookup('localhost').address).toEqualTypeOf<string>();
    expectTypeOf(dns.lookup('localhost', { all: true })).toBeArray();
    // @ts-expect-error a Queue<number> takes numbers only
    new sync.Queue<number>().put('x');
    // @ts-expect-error no such subpath export
    void greenfiber.patchAll;
  });
});
