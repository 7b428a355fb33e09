// The save/restore machinery of greenfiber/monkey (gevent's monkey/_state.py and api.py): the
// originals of every patched property, which module parts are patched, and how to undo it all.
import Module from 'node:module';
import { invalidArgument } from '../validate';

/** The names patchAll() and isPatched() know, one per patch function. */
export type PatchName = 'fs' | 'child_process' | 'zlib' | 'crypto' | 'dns' | 'net' | 'http';

interface Saved {
  target: object;
  key: string | symbol;
  /** The property as it was: restored as is (an own property), or deleted (an inherited one). */
  descriptor: PropertyDescriptor | undefined;
}

// Every property we replaced, per patch name, in the order they were replaced.
const saved = new Map<PatchName, Saved[]>();

const names: readonly PatchName[] = ['fs', 'child_process', 'zlib', 'crypto', 'dns', 'net', 'http'];

/**
 * @internal `name` if it is one of the PatchNames.
 * @throws TypeError if it is not a string; RangeError if it is not one of them.
 */
export function checkPatchName(name: unknown): PatchName {
  if (typeof name !== 'string') throw invalidArgument('name', `one of ${names.map((n) => `'${n}'`).join(', ')}`, name);
  if (!(names as readonly string[]).includes(name)) throw invalidArgument('name', `one of ${names.map((n) => `'${n}'`).join(', ')}`, name, true);
  return name as PatchName;
}

/**
 * Whether `name` is patched now.
 * @throws TypeError if `name` is not a string; RangeError if it names no patch (a typo would
 *   otherwise read as "not patched").
 */
export function isPatched(name: string): boolean {
  return saved.has(checkPatchName(name));
}

/**
 * Runs `install` once for `name`: later calls are no-ops until `restore(name)`. Everything
 * `install` replaces through `patchItem()` is recorded under `name`.
 */
export function patchOnce(name: PatchName, install: (patch: Patcher) => void): void {
  if (saved.has(name)) return;
  const items: Saved[] = [];
  saved.set(name, items);
  try {
    install((target, key, value) => {
      items.push({ target, key, descriptor: Object.getOwnPropertyDescriptor(target, key) });
      Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: Object.getOwnPropertyDescriptor(target, key)?.enumerable ?? true });
    });
  } catch (error) {
    restore(name);
    throw error;
  }
  syncBuiltinESMExports();
}

/** Replaces `target[key]` with `value`, remembering the original for restore(). */
export type Patcher = (target: object, key: string | symbol, value: unknown) => void;

/** Puts back every property patched under `name`, newest first. A no-op if it is not patched. */
export function restore(name: PatchName): void {
  const items = saved.get(name);
  if (items === undefined) return;
  saved.delete(name);
  for (let i = items.length - 1; i >= 0; i--) {
    const { target, key, descriptor } = items[i];
    if (descriptor === undefined) delete (target as Record<string | symbol, unknown>)[key];
    else Object.defineProperty(target, key, descriptor);
  }
  syncBuiltinESMExports();
}

/** The names patched now, in the order they were patched. */
export function patchedNames(): PatchName[] {
  return [...saved.keys()];
}

/**
 * Makes ESM named imports of builtins (`import { readFileSync } from 'node:fs'`) see the
 * properties as they are now on the CommonJS module objects.
 */
function syncBuiltinESMExports(): void {
  (Module as unknown as { syncBuiltinESMExports(): void }).syncBuiltinESMExports();
}
