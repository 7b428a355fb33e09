// greenfiber/monkey: makes existing blocking-style code cooperative without rewriting it
// (gevent.monkey). One function per module; patchAll() applies them all; unpatchAll() undoes them.
import { patchChildProcess } from './child-process';
import { patchCrypto } from './crypto';
import { patchDns } from './dns';
import { patchFs } from './fs';
import { patchHttp } from './http';
import { patchNet } from './net';
import { checkPatchName, isPatched, patchedNames, restore, type PatchName } from './state';
import { invalidArgument, readOptions } from '../validate';
import { patchZlib } from './zlib';

export { patchChildProcess, patchCrypto, patchDns, patchFs, patchHttp, patchNet, patchZlib, isPatched };
export type { PatchName };
export { RANDOM_THRESHOLD } from './crypto';
export { limitServer, serverStats, type ServerStats } from './server';
export { DEFAULT_MAX_HANDLERS, serverDefaults, setServerDefaults, type ServerLimits } from '../green/server-limits';

/** Which parts patchAll() applies: each defaults to true (gevent's patch_all keywords). */
export interface PatchAllOptions {
  fs?: boolean;
  childProcess?: boolean;
  zlib?: boolean;
  crypto?: boolean;
  dns?: boolean;
  net?: boolean;
  http?: boolean;
}

/**
 * Applies every patch (or those `options` leave on): `*Sync` functions of fs, child_process,
 * zlib and the slow crypto ones park only the calling greenlet; net and http servers run each
 * connection / request in a greenlet of its own. Patches the module objects in place, so code
 * that imported them earlier (CommonJS `require('fs').readFileSync`, ESM named imports) sees the
 * patched functions. Call it first thing; idempotent; never blocks.
 */
export function patchAll(options: PatchAllOptions = {}): void {
  const keys = ['fs', 'childProcess', 'zlib', 'crypto', 'dns', 'net', 'http'] as const;
  const read = readOptions(options, 'options', keys);
  for (const key of Object.keys(options ?? {})) {
    if (!(keys as readonly string[]).includes(key)) {
      throw new TypeError(`Expected only the options ${keys.join(', ')} for patchAll() but received ${JSON.stringify(key)}`);
    }
  }
  for (const key of keys) {
    if (read[key] !== undefined && typeof read[key] !== 'boolean') throw invalidArgument(`options.${key}`, 'a boolean (or undefined)', read[key]);
  }
  options = read as PatchAllOptions;
  if (options.fs !== false) patchFs();
  if (options.childProcess !== false) patchChildProcess();
  if (options.zlib !== false) patchZlib();
  if (options.crypto !== false) patchCrypto();
  if (options.dns !== false) patchDns();
  if (options.net !== false) patchNet();
  if (options.http !== false) patchHttp();
}

/** Restores every patched module to its originals, newest patch first. Idempotent. */
export function unpatchAll(): void {
  for (const name of patchedNames().reverse()) restore(name);
}

/**
 * Restores one module (`'fs'`, `'child_process'`, `'zlib'`, `'crypto'`, `'dns'`, `'net'`, `'http'`);
 * a no-op if it is not patched.
 * @throws TypeError if `name` is not a string; RangeError if it is not one of those names.
 */
export function unpatch(name: PatchName): void {
  restore(checkPatchName(name));
}
