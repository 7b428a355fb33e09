// Type tests (vitest --typecheck, run by `npm test`): the public types as a CommonJS TypeScript
// consumer sees them through package.json "exports" (require condition → dist/entries/*.d.ts).
// Nothing here runs; each `@ts-expect-error` line must fail to compile, or the test fails.
import { describe, expectTypeOf, test } from 'vitest';
import {
  AsyncResult,
  Channel,
  Event,
  Fiber,
  type Greenlet,
  GreenfiberError,
  joinAll,
  main,
  NativeLoadError,
  Pool,
  PriorityQueue,
  Queue,
  spawn,
  spawnLater,
  wait,
  waitAll,
  blocking,
  withTimeout,
} from 'greenfiber';
import { get, request, type HttpResponse, type HttpStreamResponse } from 'greenfiber/http';
import { Queue as SyncQueue } from 'greenfiber/sync';
import { Pool as PoolFromPool } from 'greenfiber/pool';
import { Fiber as FiberFromFiber } from 'greenfiber/fiber';
import { patchAll, unpatch } from 'greenfiber/monkey';
import { connect, type Socket } from 'greenfiber/net';
import { lookup } from 'greenfiber/dns';

describe('spawn', () => {
  test('checks its arguments against the function and returns Greenlet<T>', () => {
    expectTypeOf(spawn((a: number, b: string) => `${b}${a * 2}`, 21, 'x')).toEqualTypeOf<Greenlet<string>>();
    expectTypeOf(spawn(() => 42)).toEqualTypeOf<Greenlet<number>>();
    expectTypeOf(spawnLater(10, (n: number) => n > 0, 1)).toEqualTypeOf<Greenlet<boolean>>();
    expectTypeOf(new Pool(2).spawn((s: string) => s.length, 'abc')).toEqualTypeOf<Greenlet<number>>();
    // A generic function is instantiated from the arguments.
    expectTypeOf(spawn(<X>(x: X): X[] => [x], 'a')).toEqualTypeOf<Greenlet<string[]>>();
  });

  test('rejects arguments that do not fit', () => {
    // @ts-expect-error a string where the function takes a number
    spawn((a: number) => a, 'x');
    // @ts-expect-error a missing argument
    spawn((a: number, b: number) => a + b, 1);
    // @ts-expect-error an extra argument
    spawn(() => 1, 2);
    // @ts-expect-error not a function
    spawn(42);
    // @ts-expect-error spawnLater's delay is a number of ms
    spawnLater('10', () => 1);
    // @ts-expect-error Pool.spawn checks arguments too
    new Pool(2).spawn((s: string) => s, 1);
  });
});

describe('Greenlet<T>', () => {
  test('get() returns T; value, join, promise() follow T', () => {
    const g = spawn(() => ({ id: 1 }));
    expectTypeOf(g.get()).toEqualTypeOf<{ id: number }>();
    expectTypeOf(g.get({ block: false, timeout: 10 })).toEqualTypeOf<{ id: number }>();
    expectTypeOf(g.promise()).resolves.toEqualTypeOf<{ id: number }>();
    expectTypeOf(joinAll([g, spawn(() => 'x')])).toEqualTypeOf<Array<Greenlet<{ id: number }> | Greenlet<string>>>();
    // @ts-expect-error get() takes options, not a timeout number
    g.get(10);
    // @ts-expect-error T is { id: number }
    const s: string = g.get();
    void s;
  });
});

describe('Queue<T>', () => {
  test('takes and gives T', () => {
    const q = new Queue<number>();
    expectTypeOf(q.get()).toEqualTypeOf<number>();
    expectTypeOf(q.getNowait()).toEqualTypeOf<number>();
    expectTypeOf(q.put).parameter(0).toEqualTypeOf<number>();
    // @ts-expect-error a Queue<number> takes numbers only
    q.put('one');
    // @ts-expect-error putNowait too
    q.putNowait(null);
    expectTypeOf(new PriorityQueue<[number, string]>().get()).toEqualTypeOf<[number, string]>();
    expectTypeOf(new Channel<string>().get()).toEqualTypeOf<string>();
    // greenfiber/sync exports the same class as greenfiber.
    expectTypeOf(SyncQueue).toEqualTypeOf(Queue);
  });
});

describe('Pool.map and friends', () => {
  test('map returns the mapped type; apply returns the function result', () => {
    const pool = new Pool(4);
    expectTypeOf(pool.map((n: number) => String(n), [1, 2, 3])).toEqualTypeOf<string[]>();
    expectTypeOf(pool.imap((n: number) => n * 2, new Set([1]))).toEqualTypeOf<IterableIterator<number>>();
    expectTypeOf(pool.apply((a: number, b: number) => a + b, [1, 2])).toEqualTypeOf<number>();
    // @ts-expect-error the items must fit the function's parameter
    pool.map((n: number) => n, ['a']);
    // @ts-expect-error apply's arguments are checked
    pool.apply((a: number) => a, ['x']);
    expectTypeOf(PoolFromPool).toEqualTypeOf(Pool);
  });
});

describe('wait<T>', () => {
  test('returns what the waitable holds', () => {
    expectTypeOf(wait(Promise.resolve(1))).toEqualTypeOf<number>();
    expectTypeOf(wait(spawn(() => 'x'))).toEqualTypeOf<string>();
    expectTypeOf(wait(new AsyncResult<Date>())).toEqualTypeOf<Date>();
    expectTypeOf(wait(Promise.resolve(1), { timeout: 5 })).toEqualTypeOf<number>();
    expectTypeOf(waitAll([spawn(() => 1)])).toEqualTypeOf<Array<Greenlet<number>>>();
    expectTypeOf(blocking(async (s: string) => s.length)).toEqualTypeOf<(s: string) => number>();
    expectTypeOf(withTimeout(10, () => 'done')).toEqualTypeOf<string>();
    expectTypeOf(main(() => 7)).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error a number is not waitable
    wait(42);
    // @ts-expect-error the timeout goes in an options object
    wait(Promise.resolve(1), 5);
    expectTypeOf(new Event().wait()).toEqualTypeOf<boolean>();
  });
});

describe('greenfiber/http', () => {
  test('get and request give a typed response; stream: true a stream response', () => {
    const response = get('http://127.0.0.1:1/');
    expectTypeOf(response).toEqualTypeOf<HttpResponse>();
    expectTypeOf(response.status).toEqualTypeOf<number>();
    expectTypeOf(response.body).toEqualTypeOf<Buffer>();
    expectTypeOf(response.text()).toEqualTypeOf<string>();
    expectTypeOf(response.json<{ a: number }>()).toEqualTypeOf<{ a: number }>();
    expectTypeOf(response.ok).toEqualTypeOf<boolean>();
    const stream = request('http://127.0.0.1:1/', { stream: true });
    expectTypeOf(stream).toEqualTypeOf<HttpStreamResponse>();
    expectTypeOf(stream.read()).toEqualTypeOf<Buffer | null>();
    expectTypeOf(request(new URL('http://127.0.0.1:1/'), { method: 'POST', body: 'x', timeout: 100 })).toEqualTypeOf<HttpResponse>();
    // @ts-expect-error the timeout is a number of ms
    get('http://127.0.0.1:1/', { timeout: '1s' });
    // @ts-expect-error get() has no body
    get('http://127.0.0.1:1/', { body: 'x' });
    // @ts-expect-error a body is a string or bytes
    request('http://127.0.0.1:1/', { method: 'POST', body: { a: 1 } });
  });
});

describe('the other subpaths and the errors', () => {
  test('are typed', () => {
    expectTypeOf(FiberFromFiber).toEqualTypeOf(Fiber);
    expectTypeOf(patchAll).toBeCallableWith({ fs: false });
    // @ts-expect-error unknown module name
    unpatch('nope');
    expectTypeOf(connect).returns.toEqualTypeOf<Socket>();
    expectTypeOf(lookup).toBeFunction();
    expectTypeOf(new NativeLoadError('x')).toMatchTypeOf<GreenfiberError>();
    expectTypeOf(new NativeLoadError('x').code).toEqualTypeOf<string>();
  });
});
