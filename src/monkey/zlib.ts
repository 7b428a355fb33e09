// patchZlib(): the one-shot `*Sync` functions of `zlib` run their asynchronous twin (on libuv's
// threadpool) inside a greenlet, parking only that greenlet.
import zlib = require('node:zlib');
import { patchOnce } from './state';
import { isAnyArrayBuffer } from 'node:util/types';
import { greenSync } from './sync-call';

// The sync functions validate their input as "buffer", the streams behind the twins as "chunk":
// other input goes to the original, which throws its own error.
function badInput(args: unknown[]): boolean {
  const input = args[0];
  return !(typeof input === 'string' || ArrayBuffer.isView(input) || isAnyArrayBuffer(input));
}

/** Each patched function takes (buffer, options); its twin is the name without `Sync`. */
export const zlibFunctions = [
  'brotliCompressSync',
  'brotliDecompressSync',
  'deflateRawSync',
  'deflateSync',
  'gunzipSync',
  'gzipSync',
  'inflateRawSync',
  'inflateSync',
  'unzipSync',
  // Node 22.15 / 23.8 and later.
  'zstdCompressSync',
  'zstdDecompressSync',
];

/** Patches `zlib` in place: the functions of `zlibFunctions` that this Node has. Idempotent. */
export function patchZlib(): void {
  patchOnce('zlib', (patch) => {
    const module = zlib as unknown as Record<string, Function>;
    for (const name of zlibFunctions) {
      const original = module[name];
      const twin = module[name.slice(0, -'Sync'.length)];
      if (typeof original !== 'function' || typeof twin !== 'function') continue;
      patch(module, name, greenSync(original, twin, { arity: 2, fallback: badInput }));
    }
  });
}
