// patchCrypto(): the slow synchronous functions of `crypto` (key derivation, key and prime
// generation, large random fills, signing) run their asynchronous twin inside a greenlet.
import crypto = require('node:crypto');
import { patchOnce } from './state';
import { greenSync, type TwinSpec } from './sync-call';

/**
 * randomBytes() and randomFillSync() park only for at least this many bytes: below it the
 * threadpool round trip costs more than filling the buffer in place.
 */
export const RANDOM_THRESHOLD = 64 * 1024;

function byteLengthOf(value: unknown): number {
  return ArrayBuffer.isView(value) ? value.byteLength : value instanceof ArrayBuffer ? value.byteLength : 0;
}

// randomFillSync(buffer, offset = 0, size = buffer.byteLength - offset): small fills stay sync.
function smallFill(args: unknown[]): boolean {
  const [buffer, offset, size] = args;
  const elementSize = ArrayBuffer.isView(buffer) ? ((buffer as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
  const start = typeof offset === 'number' ? offset * elementSize : 0;
  const count = typeof size === 'number' ? size * elementSize : byteLengthOf(buffer) - start;
  return !(count >= RANDOM_THRESHOLD);
}

// Functions that are sync when called without a callback: patched only in that form.
const withoutCallback = (arity: number, extra?: (args: unknown[]) => boolean) => (args: unknown[]): boolean =>
  typeof args[arity] === 'function' || args.length > arity || (extra !== undefined && extra(args));

/** Each patched function and its twin. */
export const cryptoFunctions: Record<string, { twin: string } & TwinSpec> = {
  checkPrimeSync: { twin: 'checkPrime', arity: 2 },
  generateKeyPairSync: { twin: 'generateKeyPair', arity: 2, result: ([publicKey, privateKey]) => ({ publicKey, privateKey }) },
  generateKeySync: { twin: 'generateKey', arity: 2 },
  generatePrimeSync: { twin: 'generatePrime', arity: 2 },
  hkdfSync: { twin: 'hkdf', arity: 5 },
  pbkdf2Sync: { twin: 'pbkdf2', arity: 5 },
  randomFillSync: { twin: 'randomFill', arity: 3, fallback: smallFill, result: (_results, args) => args[0] },
  scryptSync: { twin: 'scrypt', arity: 4 },
  // randomBytes(size), sign(algorithm, data, key), verify(algorithm, data, key, signature): sync
  // without their callback; randomBytes only from RANDOM_THRESHOLD bytes.
  randomBytes: { twin: 'randomBytes', arity: 1, fallback: withoutCallback(1, (args) => !(typeof args[0] === 'number' && args[0] >= RANDOM_THRESHOLD)) },
  sign: { twin: 'sign', arity: 3, fallback: withoutCallback(3) },
  verify: { twin: 'verify', arity: 4, fallback: withoutCallback(4) },
};

/** Patches `crypto` in place: the functions of `cryptoFunctions` that this Node has. Idempotent. */
export function patchCrypto(): void {
  patchOnce('crypto', (patch) => {
    const module = crypto as unknown as Record<string, Function>;
    for (const [name, spec] of Object.entries(cryptoFunctions)) {
      const original = module[name];
      const twin = module[spec.twin];
      if (typeof original !== 'function' || typeof twin !== 'function') continue;
      patch(module, name, greenSync(original, twin, spec));
    }
  });
}
