// The validation layer (src/validate.ts), table-driven: every public function and constructor ×
// bad inputs (wrong types, NaN, negatives, huge values, null, hostile objects) gives a TypeError or
// RangeError naming the argument, with what was expected and what was received; nothing hangs and
// nothing is silently accepted. Plus the specific faults of issue 11 and the rule for times.
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  BoundedSemaphore,
  Channel,
  Condition,
  Event,
  Fiber,
  FiberError,
  Greenlet,
  Group,
  LifoQueue,
  Lock,
  Pool,
  PriorityQueue,
  Queue,
  RLock,
  Semaphore,
  ThreadPool,
  Timeout,
  blocking,
  getCurrent,
  hub,
  iwait,
  joinAll,
  killAll,
  local,
  main,
  sleep,
  spawn,
  spawnLater,
  wait,
  waitAll,
  withTimeout,
} from '../dist/entries/index.js';
import { Socket, StreamServer, connect } from '../dist/entries/net.js';
import { get, request } from '../dist/entries/http.js';
import { lookup } from '../dist/entries/dns.js';
import { runFixture } from './helpers';
import { expectNoFiberLeft, inGreenlet } from './greenlet-helpers';

afterEach(expectNoFiberLeft);

// A value that throws from every trap: describing it, or reading anything from it, must not
// leak its error instead of ours.
const hostile = new Proxy(
  {},
  {
    get() {
      throw new Error('hostile get');
    },
    has() {
      throw new Error('hostile has');
    },
    ownKeys() {
      throw new Error('hostile ownKeys');
    },
    getPrototypeOf() {
      throw new Error('hostile getPrototypeOf');
    },
    getOwnPropertyDescriptor() {
      throw new Error('hostile descriptor');
    },
  },
);

type Bad = [label: string, value: unknown, error: typeof TypeError | typeof RangeError];

const TIME: Bad[] = [
  ['a numeric string', '10', TypeError],
  ['NaN', Number.NaN, RangeError],
  ['an object', {}, TypeError],
  ['a hostile object', hostile, TypeError],
  ['a boolean', true, TypeError],
  ['a bigint', 10n, TypeError],
  ['a symbol', Symbol('s'), TypeError],
  ['a Date', new Date(), TypeError],
];
const FUNCTION: Bad[] = [
  ['a number', 5, TypeError],
  ['null', null, TypeError],
  ['a string', 'fn', TypeError],
  ['an object', {}, TypeError],
  ['a hostile object', hostile, TypeError],
  ['an array', [], TypeError],
];
const OPTIONS: Bad[] = [
  ['a number', 5, TypeError],
  ['a string', 'x', TypeError],
  ['a boolean', true, TypeError],
  ['an array', [], TypeError],
  ['null', null, TypeError],
  ['a function', () => {}, TypeError],
];
const COUNT: Bad[] = [
  ['a string', 'x', TypeError],
  ['a negative number', -1, RangeError],
  ['a fraction', 1.5, RangeError],
  ['NaN', Number.NaN, RangeError],
  ['null', null, TypeError],
];
const BOOLEAN: Bad[] = [
  ['a string', 'yes', TypeError],
  ['a number', 1, TypeError],
  ['an object', {}, TypeError],
];
const GREENLETS: Bad[] = [
  ['null', null, TypeError],
  ['a number', 5, TypeError],
  ['an array holding null', [null], TypeError],
  ['an array holding a number', [5], TypeError],
  ['an array holding a plain object', [{}], TypeError],
  ['a hostile object', hostile, TypeError],
];
const ITERABLE: Bad[] = [
  ['null', null, TypeError],
  ['a number', 5, TypeError],
  ['a plain object', {}, TypeError],
  ['a hostile object', hostile, TypeError],
];
const GREENLET: Bad[] = [
  ['null', null, TypeError],
  ['a number', 5, TypeError],
  ['a plain object', {}, TypeError],
  ['a raw Fiber', new Fiber(() => {}), TypeError],
];

/** An options object whose `key` getter throws. */
function throwingGetter(key: string): object {
  return Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error(`getter of ${key}`);
    },
  });
}

interface Row {
  /** The call as a reader sees it. */
  api: string;
  /** The argument's name as the message must give it. */
  arg: string;
  bad: Bad[];
  call: (value: unknown) => unknown;
}

/** Rows for each key of an options argument: bad values of the key, and a getter that throws. */
function optionRows(api: string, keys: Record<string, Bad[]>, call: (options: unknown) => unknown, argName = 'options'): Row[] {
  const rows: Row[] = [{ api, arg: argName, bad: OPTIONS, call }];
  for (const [key, bad] of Object.entries(keys)) {
    rows.push({ api, arg: `${argName}.${key}`, bad, call: (value) => call({ [key]: value }) });
    rows.push({ api: `${api} (throwing getter)`, arg: `${argName}.${key}`, bad: [['a throwing getter', throwingGetter(key), TypeError]], call: (getterObject) => call(getterObject) });
  }
  return rows;
}

const noop = (): void => {};
const done = (): Greenlet<void> => {
  const greenlet = new Greenlet(noop);
  return greenlet;
};

// Built lazily inside a greenlet (some constructors need one).
function rows(): Row[] {
  const ready = new Event();
  ready.set();
  const result = new AsyncResult<number>();
  result.set(1);
  const fiber = new Fiber(noop);
  const greenlet = done();
  const pool = new Pool(2);
  const group = new Group();
  const queue = new Queue<number>(10);
  queue.put(1);
  const semaphore = new Semaphore(5);
  const rlock = new RLock();
  const cond = new Condition();
  const threadPool = new ThreadPool(1);
  const socket = new Socket(new net.Socket());
  return [
    // Fibers
    { api: 'new Fiber(fn)', arg: 'fn', bad: FUNCTION, call: (v) => new Fiber(v as never) },
    ...optionRows('new Fiber(fn, options)', { name: [['a number', 7, TypeError]], parent: GREENLET.slice(0, 3) }, (v) => new Fiber(noop, v as never)),
    { api: 'fiber.name = x', arg: 'name', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => ((fiber as { name: unknown }).name = v) },
    { api: 'greenlet.name = x', arg: 'name', bad: [['a number', 5, TypeError]], call: (v) => ((greenlet as { name: unknown }).name = v) },
    { api: 'fiber.parent = x', arg: 'parent', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => ((fiber as { parent: unknown }).parent = v) },
    // The hub
    { api: 'hub.runCallback(fn)', arg: 'fn', bad: FUNCTION, call: (v) => hub.runCallback(v as never) },
    { api: 'hub.onError = x', arg: 'hub.onError', bad: [['a number', 5, TypeError], ['a string', 'log', TypeError], ['an object', {}, TypeError]], call: (v) => (hub.onError = v as never) },
    { api: 'hub.strict = x', arg: 'hub.strict', bad: BOOLEAN, call: (v) => (hub.strict = v as never) },
    { api: 'hub.trackParkedStacks = x', arg: 'hub.trackParkedStacks', bad: BOOLEAN, call: (v) => (hub.trackParkedStacks = v as never) },
    { api: 'hub.captureSpawnSites = x', arg: 'hub.captureSpawnSites', bad: BOOLEAN, call: (v) => (hub.captureSpawnSites = v as never) },
    { api: 'hub.maxBlockingTime = x', arg: 'maxBlockingTime', bad: [...TIME, ['a negative number', -1, RangeError]], call: (v) => (hub.maxBlockingTime = v as never) },
    // Greenlets
    { api: 'spawn(fn)', arg: 'fn', bad: FUNCTION, call: (v) => spawn(v as never) },
    { api: 'new Greenlet(fn)', arg: 'fn', bad: FUNCTION, call: (v) => new Greenlet(v as never) },
    { api: 'spawnLater(ms, fn)', arg: 'ms', bad: TIME, call: (v) => spawnLater(v as never, noop) },
    { api: 'spawnLater(ms, fn)', arg: 'fn', bad: FUNCTION, call: (v) => spawnLater(1, v as never) },
    { api: 'greenlet.startLater(ms)', arg: 'ms', bad: TIME, call: (v) => new Greenlet(noop).startLater(v as never) },
    { api: 'greenlet.join(timeout)', arg: 'timeout', bad: TIME, call: (v) => greenlet.join(v as never) },
    ...optionRows('greenlet.get(options)', { timeout: TIME, block: BOOLEAN }, (v) => greenlet.get(v as never)),
    ...optionRows('greenlet.kill(error, options)', { timeout: TIME, block: BOOLEAN }, (v) => greenlet.kill(undefined, v as never)),
    ...(['link', 'linkValue', 'linkException', 'rawlink', 'unlink'] as const).map((name): Row => ({ api: `greenlet.${name}(callback)`, arg: 'callback', bad: FUNCTION, call: (v) => greenlet[name](v as never) })),
    { api: 'joinAll(greenlets)', arg: 'greenlets', bad: GREENLETS, call: (v) => joinAll(v as never) },
    ...optionRows('joinAll(greenlets, options)', { timeout: TIME, count: COUNT, raiseError: BOOLEAN }, (v) => joinAll([], v as never)),
    { api: 'killAll(greenlets)', arg: 'greenlets', bad: GREENLETS, call: (v) => killAll(v as never) },
    ...optionRows('killAll(greenlets, options)', { timeout: TIME, block: BOOLEAN }, (v) => killAll([], v as never)),
    { api: 'sleep(ms)', arg: 'ms', bad: TIME, call: (v) => sleep(v as never) },
    { api: 'wait(object)', arg: 'object', bad: [['a number', 42, TypeError], ['null', null, TypeError], ['a plain object', {}, TypeError], ['a hostile object', hostile, TypeError]], call: (v) => wait(v as never) },
    ...optionRows('wait(object, options)', { timeout: TIME }, (v) => wait(ready, v as never)),
    { api: 'waitAll(objects)', arg: 'objects', bad: ITERABLE.filter(([label]) => label !== 'null'), call: (v) => waitAll(v as never) },
    { api: 'waitAll(objects)', arg: 'objects[0]', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => waitAll([v] as never) },
    ...optionRows('waitAll(objects, options)', { timeout: TIME, count: COUNT }, (v) => waitAll([ready], v as never)),
    { api: 'iwait(objects)', arg: 'objects', bad: ITERABLE, call: (v) => iwait(v as never) },
    ...optionRows('iwait(objects, options)', { timeout: TIME, count: COUNT }, (v) => iwait([ready], v as never)),
    { api: 'blocking(fn)', arg: 'fn', bad: FUNCTION, call: (v) => blocking(v as never) },
    { api: 'new Timeout(ms)', arg: 'ms', bad: TIME, call: (v) => new Timeout(v as never) },
    { api: 'Timeout.start(ms)', arg: 'ms', bad: TIME, call: (v) => Timeout.start(v as never) },
    { api: 'Timeout.startNewOrDummy(ms)', arg: 'ms', bad: TIME, call: (v) => Timeout.startNewOrDummy(v as never) },
    { api: 'withTimeout(ms, fn)', arg: 'ms', bad: TIME, call: (v) => withTimeout(v as never, noop) },
    { api: 'withTimeout(ms, fn)', arg: 'fn', bad: FUNCTION, call: (v) => withTimeout(10, v as never) },
    { api: 'withTimeout(ms, fn, options)', arg: 'options', bad: OPTIONS, call: (v) => withTimeout(10, noop, v as never) },
    { api: 'main(fn)', arg: 'fn', bad: FUNCTION, call: (v) => main(v as never) },
    { api: 'local(init)', arg: 'init', bad: FUNCTION.filter(([label]) => label !== 'null'), call: (v) => local(v as never) },
    // Synchronisation
    { api: 'event.wait(timeout)', arg: 'timeout', bad: TIME, call: (v) => ready.wait(v as never) },
    ...optionRows('asyncResult.get(options)', { timeout: TIME, block: BOOLEAN }, (v) => result.get(v as never)),
    { api: 'asyncResult.wait(timeout)', arg: 'timeout', bad: TIME, call: (v) => result.wait(v as never) },
    { api: 'new Semaphore(value)', arg: 'value', bad: COUNT, call: (v) => new Semaphore(v as never) },
    { api: 'new BoundedSemaphore(value)', arg: 'value', bad: COUNT, call: (v) => new BoundedSemaphore(v as never) },
    ...optionRows('semaphore.acquire(options)', { timeout: TIME, blocking: BOOLEAN }, (v) => semaphore.acquire(v as never)),
    { api: 'semaphore.wait(timeout)', arg: 'timeout', bad: TIME, call: (v) => semaphore.wait(v as never) },
    { api: 'semaphore.with(fn)', arg: 'fn', bad: FUNCTION, call: (v) => semaphore.with(v as never) },
    { api: 'lock.with(fn)', arg: 'fn', bad: FUNCTION, call: (v) => new Lock().with(v as never) },
    ...optionRows('rlock.acquire(options)', { timeout: TIME, blocking: BOOLEAN }, (v) => rlock.acquire(v as never)),
    { api: 'rlock.with(fn)', arg: 'fn', bad: FUNCTION, call: (v) => rlock.with(v as never) },
    { api: 'new Queue(maxsize)', arg: 'maxsize', bad: [['a string', '3', TypeError], ['NaN', Number.NaN, RangeError], ['a fraction', 2.5, RangeError], ['an object', {}, TypeError]], call: (v) => new Queue(v as never) },
    { api: 'new LifoQueue(maxsize)', arg: 'maxsize', bad: [['a string', '3', TypeError], ['NaN', Number.NaN, RangeError]], call: (v) => new LifoQueue(v as never) },
    ...optionRows('new PriorityQueue(maxsize, options)', { comparator: FUNCTION.filter(([label]) => label !== 'null') }, (v) => new PriorityQueue(undefined, v as never)),
    ...optionRows('queue.put(item, options)', { timeout: TIME, block: BOOLEAN }, (v) => queue.put(2, v as never)),
    ...optionRows('queue.get(options)', { timeout: TIME, block: BOOLEAN }, (v) => queue.get(v as never)),
    ...optionRows('queue.peek(options)', { timeout: TIME, block: BOOLEAN }, (v) => queue.peek(v as never)),
    { api: 'queue.shutdown(immediate)', arg: 'immediate', bad: BOOLEAN, call: (v) => new Queue().shutdown(v as never) },
    { api: 'new Condition(lock)', arg: 'lock', bad: [['a number', 5, TypeError], ['null', null, TypeError], ['a plain object', {}, TypeError]], call: (v) => new Condition(v as never) },
    { api: 'condition.wait(timeout)', arg: 'timeout', bad: TIME, call: (v) => cond.wait(v as never) },
    { api: 'condition.waitFor(predicate)', arg: 'predicate', bad: FUNCTION, call: (v) => cond.waitFor(v as never) },
    { api: 'condition.notify(n)', arg: 'n', bad: COUNT.filter(([label]) => label !== 'null'), call: (v) => cond.notify(v as never) },
    { api: 'condition.with(fn)', arg: 'fn', bad: FUNCTION, call: (v) => cond.with(v as never) },
    // Pools
    { api: 'new Group(greenlets)', arg: 'greenlets', bad: GREENLETS, call: (v) => new Group(v as never) },
    { api: 'new Pool(size)', arg: 'size', bad: COUNT, call: (v) => new Pool(v as never) },
    { api: 'pool.spawn(fn)', arg: 'fn', bad: FUNCTION, call: (v) => pool.spawn(v as never) },
    { api: 'group.add(greenlet)', arg: 'greenlet', bad: GREENLET, call: (v) => group.add(v as never) },
    { api: 'group.discard(greenlet)', arg: 'greenlet', bad: GREENLET, call: (v) => group.discard(v as never) },
    { api: 'pool.join(timeout)', arg: 'timeout', bad: TIME, call: (v) => pool.join(v as never) },
    ...optionRows('pool.join(timeout, options)', { raiseError: BOOLEAN }, (v) => pool.join(undefined, v as never)),
    ...optionRows('pool.kill(error, options)', { timeout: TIME, block: BOOLEAN }, (v) => pool.kill(undefined, v as never)),
    { api: 'pool.waitAvailable(timeout)', arg: 'timeout', bad: TIME, call: (v) => pool.waitAvailable(v as never) },
    { api: 'pool.apply(fn, args)', arg: 'fn', bad: FUNCTION, call: (v) => pool.apply(v as never) },
    { api: 'pool.apply(fn, args)', arg: 'args', bad: [['a number', 5, TypeError], ['a string', 'ab', TypeError], ['null', null, TypeError], ['a hostile object', hostile, TypeError]], call: (v) => pool.apply(noop, v as never) },
    { api: 'pool.applyAsync(fn, args, callback)', arg: 'fn', bad: FUNCTION, call: (v) => pool.applyAsync(v as never) },
    { api: 'pool.applyAsync(fn, args, callback)', arg: 'args', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => pool.applyAsync(noop, v as never) },
    { api: 'pool.applyAsync(fn, args, callback)', arg: 'callback', bad: FUNCTION.filter(([label]) => label !== 'null'), call: (v) => pool.applyAsync(noop, [], v as never) },
    { api: 'pool.map(fn, items)', arg: 'fn', bad: FUNCTION, call: (v) => pool.map(v as never, []) },
    { api: 'pool.map(fn, items)', arg: 'items', bad: ITERABLE, call: (v) => pool.map(noop, v as never) },
    { api: 'pool.mapAsync(fn, items, callback)', arg: 'fn', bad: FUNCTION, call: (v) => pool.mapAsync(v as never, []) },
    { api: 'pool.mapAsync(fn, items, callback)', arg: 'items', bad: ITERABLE, call: (v) => pool.mapAsync(noop, v as never) },
    { api: 'pool.mapAsync(fn, items, callback)', arg: 'callback', bad: FUNCTION.filter(([label]) => label !== 'null'), call: (v) => pool.mapAsync(noop, [], v as never) },
    { api: 'pool.imap(fn, items)', arg: 'fn', bad: FUNCTION, call: (v) => pool.imap(v as never, []) },
    { api: 'pool.imap(fn, items)', arg: 'items', bad: ITERABLE, call: (v) => pool.imap(noop, v as never) },
    ...optionRows('pool.imap(fn, items, options)', { maxsize: [['a string', 'x', TypeError], ['zero', 0, RangeError], ['NaN', Number.NaN, RangeError]] }, (v) => pool.imap(noop, [], v as never)),
    { api: 'pool.imapUnordered(fn, items)', arg: 'items', bad: ITERABLE, call: (v) => pool.imapUnordered(noop, v as never) },
    { api: 'new ThreadPool(size)', arg: 'size', bad: [['a string', '2', TypeError], ['zero', 0, RangeError], ['a fraction', 1.5, RangeError], ['null', null, TypeError]], call: (v) => new ThreadPool(v as never) },
    ...optionRows('new ThreadPool(size, options)', { resourceLimits: [['a number', 5, TypeError]] }, (v) => new ThreadPool(1, v as never)),
    { api: 'threadPool.run(moduleOrFile, exportName)', arg: 'moduleOrFile', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => threadPool.run(v as never, 'f') },
    { api: 'threadPool.run(moduleOrFile, exportName)', arg: 'exportName', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => threadPool.run('node:os', v as never) },
    // greenfiber/net
    { api: 'connect(port)', arg: 'port', bad: [['a string', '80', TypeError], ['a negative number', -1, RangeError], ['too large', 70000, RangeError], ['NaN', Number.NaN, RangeError], ['null', null, TypeError]], call: (v) => connect(v as never) },
    { api: 'connect(port, host)', arg: 'host', bad: [['a number', 5, TypeError], ['null', null, TypeError]], call: (v) => connect(1, v as never) },
    ...optionRows('connect(port, host, options)', { timeout: TIME, connectTimeout: TIME }, (v) => connect(1, '127.0.0.1', v as never)),
    { api: 'socket.timeout = x', arg: 'timeout', bad: TIME, call: (v) => (socket.timeout = v as never) },
    ...optionRows('socket.read(max, options)', { timeout: TIME }, (v) => socket.read(1, v as never)),
    ...optionRows('socket.readLine(options)', { timeout: TIME }, (v) => socket.readLine(v as never)),
    ...optionRows('socket.write(data, options)', { timeout: TIME }, (v) => socket.write('x', v as never)),
    { api: 'new Socket(raw)', arg: 'raw', bad: [['a plain object', {}, TypeError], ['null', null, TypeError], ['a number', 5, TypeError]], call: (v) => new Socket(v as never) },
    ...optionRows('new StreamServer(listener, handler, options)', { timeout: TIME, maxConnections: [['a string', '2', TypeError], ['zero', 0, RangeError]] }, (v) => new StreamServer(0, noop, v as never)),
    { api: 'new StreamServer(listener, handler)', arg: 'handler', bad: FUNCTION, call: (v) => new StreamServer(0, v as never) },
    // greenfiber/http (no request is sent: every check runs before)
    { api: 'request(url)', arg: 'url', bad: [['a number', 5, TypeError], ['null', null, TypeError], ['a hostile object', hostile, TypeError]], call: (v) => request(v as never) },
    ...optionRows(
      'request(url, options)',
      {
        method: [['a number', 5, TypeError]],
        dispatcher: [['a plain object', {}, TypeError], ['a number', 5, TypeError]],
        body: [['a number', 5, TypeError], ['a plain object', {}, TypeError]],
        headers: [['a number', 5, TypeError]],
        stream: BOOLEAN,
        timeout: TIME,
        connectTimeout: TIME,
        headersTimeout: TIME,
        bodyTimeout: TIME,
        maxBodySize: [['a string', '1', TypeError], ['a negative number', -1, RangeError]],
        connections: [['a string', '1', TypeError], ['zero', 0, RangeError], ['a fraction', 1.5, RangeError]],
        maxRedirections: [['a string', '1', TypeError], ['a fraction', 0.5, RangeError]],
      },
      (v) => request('http://127.0.0.1:1/', v as never),
    ),
    ...optionRows('get(url, options)', { timeout: TIME }, (v) => get('http://127.0.0.1:1/', v as never)),
  ];
}

describe('every public function × bad inputs', () => {
  it('throws TypeError/RangeError naming the argument, saying what was expected and received', async () => {
    const failures: string[] = [];
    let checked = 0;
    await inGreenlet(() => {
      // Nothing may hang: a call that wrongly accepted its input and blocked is ended by this.
      for (const row of rows()) {
        for (const [label, value, expected] of row.bad) {
          const guard = Timeout.start(2000);
          let caught: unknown;
          try {
            const returned = row.call(value);
            if (returned instanceof Greenlet) returned.kill(undefined, { block: false });
          } catch (error) {
            caught = error;
          } finally {
            guard.cancel();
          }
          checked++;
          const where = `${row.api} with ${row.arg} = ${label}`;
          if (caught === undefined) failures.push(`${where}: accepted silently`);
          else if (caught === guard) failures.push(`${where}: hung`);
          else if (!(caught instanceof expected)) failures.push(`${where}: ${(caught as Error)?.name} instead of ${expected.name}: ${(caught as Error)?.message}`);
          else {
            const message = (caught as Error).message;
            const names = message.includes(`for ${row.arg} `) || message.includes(`for ${row.arg}[`) || message.includes(`readable ${row.arg} `);
            if (!names || !/Expected .* (but received|but reading it threw) /.test(message)) failures.push(`${where}: message does not name the argument: ${message}`);
          }
        }
      }
    });
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(800);
  });

  it('describes what it received: type and value, never calling into it', async () => {
    await inGreenlet(() => {
      expect(() => sleep('10' as never)).toThrow('Expected a number of milliseconds for ms but received a string "10"');
      expect(() => new Greenlet(noop).join('10' as never)).toThrow('Expected a number of milliseconds (or undefined for none) for timeout but received a string "10"');
      expect(() => spawn(null as never)).toThrow(/for fn but received null/);
      expect(() => spawn(Object.create(null) as never)).toThrow(/received a null-prototype object/);
      expect(() => spawn(new Map() as never)).toThrow(/received an instance of Map/);
      expect(() => spawn([1, 2] as never)).toThrow(/received an array of length 2/);
      expect(() => spawn(hostile as never)).toThrow(/received an object/);
      expect(() => sleep(Number.NaN)).toThrow(/received a number NaN/);
      expect(() => sleep(7n as never)).toThrow(/received a bigint 7n/);
    });
  });
});

describe('issue 11: the faults seen', () => {
  it('a greenlet joining, getting or waiting for itself gets a FiberError at once instead of hanging', async () => {
    await inGreenlet(() => {
      const me = getCurrent() as Greenlet<unknown>;
      expect(() => me.join()).toThrow(FiberError);
      expect(() => me.join()).toThrow(/cannot join\(\) itself/);
      expect(() => me.get()).toThrow(FiberError);
      expect(() => wait(me)).toThrow(FiberError);
      expect(() => joinAll([me])).toThrow(FiberError);
      expect(() => waitAll([me])).toThrow(FiberError);
      // With a timeout or a count that others can satisfy, waiting on a list with itself is fine.
      const other = spawn(noop);
      expect(joinAll([me, other], { count: 1 })).toEqual([other]);
      expect(() => me.join(1)).toThrow(FiberError); // even with a timeout: always a mistake, as in threading
    });
  });

  it('joinAll count "x" and -1 are refused, not taken as "return at once"', async () => {
    await inGreenlet(() => {
      const slow = spawn(() => sleep(5));
      expect(() => joinAll([slow], { count: 'x' as never })).toThrow(TypeError);
      expect(() => joinAll([slow], { count: -1 })).toThrow(RangeError);
      expect(() => joinAll([slow], { timeout: Number.NaN })).toThrow(RangeError);
      expect(() => killAll([slow], { timeout: Number.NaN })).toThrow(RangeError);
      expect(slow.dead).toBe(false); // nothing was done before the check
      expect(joinAll([slow])).toEqual([slow]);
    });
  });

  it('killAll([null]), group.add(5), pool.apply(fn, 5), semaphore.with(null) name the argument', async () => {
    await inGreenlet(() => {
      expect(() => killAll([null] as never)).toThrow('Expected a Greenlet for greenlets[0] but received null');
      expect(() => new Group().add(5 as never)).toThrow('Expected a Greenlet for greenlet but received a number 5');
      expect(() => new Pool(1).apply(noop, 5 as never)).toThrow('Expected an array of arguments for args but received a number 5');
      const semaphore = new Semaphore(1);
      expect(() => semaphore.with(null as never)).toThrow('Expected a function for fn but received null');
      expect(semaphore.counter).toBe(1); // checked before acquiring
    });
  });

  it('new Socket({}) and bad request options name the argument', async () => {
    await inGreenlet(() => {
      expect(() => new Socket({} as never)).toThrow('Expected a net.Socket for raw but received an object');
      expect(() => request('http://127.0.0.1:1/', { method: 5 as never })).toThrow(/for options\.method but received a number 5/);
      expect(() => request('http://127.0.0.1:1/', { dispatcher: {} as never })).toThrow(/for options\.dispatcher but received an object/);
    });
  });

  it('hub.onError = 5 is refused; a function or undefined (or null) is taken', () => {
    expect(() => (hub.onError = 5 as never)).toThrow('Expected a function (or undefined) for hub.onError but received a number 5');
    const reporter = (): void => {};
    hub.onError = reporter;
    expect(hub.onError).toBe(reporter);
    hub.onError = null as never;
    expect(hub.onError).toBeUndefined();
  });

  it('dns functions reject a non-string host with Node\'s own TypeError naming it', async () => {
    await inGreenlet(() => {
      expect(() => lookup(5 as never)).toThrow(/hostname/);
    });
  });

  it('unpatch("nonsense"), isPatched(5) and patchAll({ bogus: true }) are refused (child process)', () => {
    const result = runFixture('validation-monkey.js');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      [
        'unpatch: RangeError Expected one of \'fs\', \'child_process\', \'zlib\', \'crypto\', \'dns\', \'net\', \'http\' for name but received a string "nonsense"',
        'isPatched: TypeError',
        'patchAll bogus: TypeError Expected only the options fs, childProcess, zlib, crypto, dns, net, http for patchAll() but received "bogus"',
        'patchAll fs: TypeError Expected a boolean (or undefined) for options.fs but received a string "no"',
        'patched after refusals: none',
        '',
      ].join('\n'),
    );
    expect(result.status).toBe(0);
  });
});

describe('the rule for times', () => {
  let warnings: string[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning.name);
  };
  beforeAll(() => process.on('warning', onWarning));
  afterAll(() => {
    process.off('warning', onWarning);
  });

  it('spawnLater(2**31) and spawnLater(Infinity) do not start soon (no timer overflow)', async () => {
    warnings = [];
    await inGreenlet(() => {
      let started = 0;
      const late = [spawnLater(2 ** 31, () => started++), spawnLater(2 ** 40, () => started++), spawnLater(Infinity, () => started++)];
      const control = spawnLater(5, noop);
      control.join();
      sleep(20); // an overflowed timer (1 ms) would have fired by now
      expect(started).toBe(0);
      expect(late.every((greenlet) => greenlet.started && !greenlet.dead)).toBe(true);
      killAll(late);
      expect(late.every((greenlet) => greenlet.dead)).toBe(true);
    });
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('a Timeout of 2**31 ms stays pending; sleep(2**31) and sleep(Infinity) park until killed', async () => {
    warnings = [];
    await inGreenlet(() => {
      const timeout = Timeout.start(2 ** 31);
      sleep(20);
      expect(timeout.pending).toBe(true);
      timeout.cancel();
      const sleepers = [spawn(() => sleep(2 ** 31)), spawn(() => sleep(Infinity))];
      sleep(20);
      expect(sleepers.every((greenlet) => !greenlet.dead)).toBe(true);
      killAll(sleepers);
    });
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('negative times are 0: sleep and spawnLater go at once, waits with a negative timeout poll', async () => {
    await inGreenlet(() => {
      sleep(-5);
      const soon = spawnLater(-100, () => 'ran');
      expect(soon.get()).toBe('ran');
      expect(new Event().wait(-1)).toBe(false);
      const empty = new Queue();
      expect(() => empty.get({ timeout: -1 })).toThrow(/nothing arrived/);
      expect(new Semaphore(0).acquire({ timeout: -1 })).toBe(false);
      const sleepers = [spawn(() => sleep(50)), spawn(() => sleep(50))];
      expect(sleepers[0].join(-1)).toBe(false);
      expect(joinAll([sleepers[1]], { timeout: -1 })).toEqual([]);
      killAll(sleepers);
    });
  });

  it('null and undefined mean no timeout; Infinity waits forever (until set)', async () => {
    await inGreenlet(() => {
      const event = new Event();
      setTimeout(() => event.set(), 5);
      expect(event.wait(Infinity)).toBe(true);
      const event2 = new Event();
      setTimeout(() => event2.set(), 5);
      expect(event2.wait(null)).toBe(true);
      const channel = new Channel<number>();
      spawn(() => channel.put(1));
      expect(channel.get({ timeout: Infinity })).toBe(1);
      expect(new Timeout(Infinity).ms).toBeUndefined();
    });
  });
});

describe('nothing leaks after a refused call', () => {
  it('refused calls open no fd and leave no greenlet', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    await inGreenlet(() => {
      for (let i = 0; i < 20; i++) {
        expect(() => spawnLater('1' as never, noop)).toThrow(TypeError);
        expect(() => connect('80' as never)).toThrow(TypeError);
        expect(() => connect(1, '127.0.0.1', { timeout: Number.NaN })).toThrow(RangeError);
        expect(() => request('http://127.0.0.1:1/', { method: 5 as never })).toThrow(TypeError);
        expect(() => new StreamServer(0, noop, { maxConnections: 0 })).toThrow(RangeError);
      }
    });
    expect(fds()).toBe(before);
  });
});

describe('times past 2**31 - 1 ms in the clients and patches', () => {
  it('patched execSync, greenfiber/http and greenfiber/net honour them (child process)', () => {
    const result = runFixture('validation-long-timeouts.js');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('execSync: ok\nhttp: 200 slow\nnet: late\noverflow warnings: 0\n');
    expect(result.status).toBe(0);
  });
});
