// Argument checks for every public function (sharp's is.js / invalidParameterError): one message
// shape, "Expected <what> for <argument> but received <type and value>", and one rule for times.
//
// The rule for times in milliseconds (timeouts, delays, sleeps), everywhere:
// - undefined or null: no timeout (or the function's default: sleep() yields, spawnLater() starts
//   on the next turn);
// - Infinity: forever (no timer at all);
// - a negative number: 0, "already due", as gevent does (sleep(-1) yields; a negative timeout
//   expires at the first blocking point), so a computed `deadline - now` needs no clamping;
// - NaN: RangeError (a number, but no time at all: usually a computation gone wrong);
// - anything else that is not a number (strings included): TypeError.
// Times above 2**31 - 1 ms (~24.8 days) are honoured by chaining timers (src/long-timer.ts).

/**
 * What `value` is, for an error message: its type and (for primitives) its value. Never calls
 * into `value` (no getters, no toString), so a hostile object cannot make it throw.
 * @internal
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `a string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
      return `a number ${Object.is(value, -0) ? '-0' : String(value)}`;
    case 'bigint':
      return `a bigint ${String(value)}n`;
    case 'boolean':
      return `a boolean ${String(value)}`;
    case 'symbol':
      return `a symbol ${safe(() => value.toString(), 'Symbol()')}`;
    case 'function':
      return `a function ${safe(() => (typeof value.name === 'string' && value.name) || '(anonymous)', '(anonymous)')}`;
    default: {
      if (value === null) return 'null';
      if (safe(() => Array.isArray(value), false)) return `an array of length ${safe(() => String((value as unknown[]).length), '?')}`;
      const name = safe(() => {
        const proto = Object.getPrototypeOf(value) as object | null;
        if (proto === null) return 'null-prototype object';
        const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
        return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '' ? ctor.name : 'Object';
      }, 'Object');
      return name === 'Object' ? 'an object' : name === 'null-prototype object' ? 'a null-prototype object' : `an instance of ${name}`;
    }
  }
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/**
 * The one error shape for a bad argument: `Expected ${expected} for ${name} but received
 * ${describe(value)}`. A RangeError when `value` has the right type but a bad value; a TypeError
 * otherwise.
 * @internal
 */
export function invalidArgument(name: string, expected: string, value: unknown, range = false): TypeError | RangeError {
  const message = `Expected ${expected} for ${name} but received ${describe(value)}`;
  return range ? new RangeError(message) : new TypeError(message);
}

/** @internal Throws a TypeError unless `value` is a function. */
export function checkFunction(value: unknown, name: string, hint = ''): asserts value is (...args: any[]) => any {
  if (typeof value !== 'function') {
    const error = invalidArgument(name, 'a function', value);
    if (hint) error.message += `; ${hint}`;
    throw error;
  }
}

/** @internal Throws a TypeError unless `value` is a function or undefined. */
export function checkOptionalFunction(value: unknown, name: string): asserts value is ((...args: any[]) => any) | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidArgument(name, 'a function (or undefined)', value);
}

/** @internal Throws a TypeError unless `value` is a boolean or undefined. */
export function checkOptionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalidArgument(name, 'a boolean (or undefined)', value);
  return value;
}

/** @internal Throws a TypeError unless `value` is a string. */
export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgument(name, 'a string', value);
  return value;
}

/**
 * Reads the options object of a public function: `undefined` gives `{}`; anything but a plain
 * object (an array, a function, a primitive, null) is a TypeError naming `name`. Reads each of
 * `keys` once, so a getter runs once; a getter that throws becomes a TypeError naming the option
 * (the getter's error is its `cause`).
 * @internal
 */
export function readOptions<K extends string>(options: unknown, name: string, keys: readonly K[]): { [P in K]?: unknown } {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(name, 'an object (or undefined)', options);
  }
  const read: { [P in K]?: unknown } = {};
  for (const key of keys) {
    try {
      read[key] = (options as Record<string, unknown>)[key];
    } catch (error) {
      throw new TypeError(`Expected a readable ${name}.${key} but reading it threw ${describe(error)}${error instanceof Error ? `: ${error.message}` : ''}`, { cause: error });
    }
  }
  return read;
}

/**
 * A timeout in ms, by the rule above: `undefined` for none (undefined, null, Infinity), a
 * negative number as 0.
 * @throws TypeError for a non-number; RangeError for NaN.
 * @internal
 */
export function checkTimeout(value: unknown, name = 'timeout'): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw invalidArgument(name, 'a number of milliseconds (or undefined for none)', value);
  if (Number.isNaN(value)) throw invalidArgument(name, 'a number of milliseconds (or undefined for none)', value, true);
  if (value === Infinity) return undefined;
  return value < 0 ? 0 : value;
}

/**
 * A delay in ms (sleep, spawnLater): `fallback` for undefined/null, Infinity kept (never),
 * a negative number as 0.
 * @throws TypeError for a non-number; RangeError for NaN.
 * @internal
 */
export function checkDelay(value: unknown, name: string, fallback = 0): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number') throw invalidArgument(name, 'a number of milliseconds', value);
  if (Number.isNaN(value)) throw invalidArgument(name, 'a number of milliseconds', value, true);
  return value < 0 ? 0 : value;
}

/**
 * An integer count or size: `undefined` stays undefined (the caller's default); Infinity is
 * allowed when `infinity` is true.
 * @throws TypeError for a non-number; RangeError for NaN, fractions and values below `min`.
 * @internal
 */
export function checkCount(value: unknown, name: string, min = 0, infinity = false): number | undefined {
  if (value === undefined) return undefined;
  const expected = `${min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`}${infinity ? ' (or Infinity)' : ''}`;
  if (typeof value !== 'number') throw invalidArgument(name, expected, value);
  if (value === Infinity && infinity) return value;
  if (!Number.isInteger(value) || value < min) throw invalidArgument(name, expected, value, true);
  return value;
}

/**
 * An iterable argument (greenlets, items, objects); null, undefined and non-iterables are a
 * TypeError naming `name`.
 * @internal
 */
export function checkIterable(value: unknown, name: string, what = 'an iterable'): Iterable<unknown> {
  const iterator = value === null || value === undefined ? undefined : safe(() => (value as { [Symbol.iterator]?: unknown })[Symbol.iterator], undefined);
  if (typeof iterator !== 'function') throw invalidArgument(name, what, value);
  return value as Iterable<unknown>;
}
