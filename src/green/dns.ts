// greenfiber/dns: blocking-style name resolution for greenlets (gevent's resolver functions):
// lookup() (getaddrinfo, on libuv's threadpool) and resolve*() (c-ares), each parking only the
// calling greenlet. Errors are Node's own (ENOTFOUND, ECONNREFUSED, ETIMEOUT, ...). Each
// resolve*() runs on a resolver of its own, cancelled when the call is interrupted.
import dns = require('node:dns');
import type { LookupAddress, LookupAllOptions, LookupOneOptions, LookupOptions, MxRecord, NaptrRecord, SoaRecord, SrvRecord, AnyRecord, CaaRecord, RecordWithTtl, ResolveOptions, ResolveWithTtlOptions } from 'node:dns';
import { assertCanBlock, Waiter } from '../hub';
import { setLongTimeout } from '../long-timer';
import { checkTimeout, invalidArgument } from '../validate';
import { wait } from '../wait';

const promises = dns.promises;

/** The per-call option of every blocking function here. */
export interface DnsCallOptions {
  /**
   * Milliseconds the call may take; past it, it throws Node's DNS error with code 'ETIMEOUT'
   * and `hostname`. resolve*() and reverse() cancel their query (as on a kill or a Timeout);
   * lookup()'s getaddrinfo cannot be stopped: it finishes on libuv's threadpool and its answer
   * is dropped. Default: no limit of ours (c-ares gives up after 4 tries of 5 s or more; lookup
   * after the system resolver's own timeouts).
   */
  timeout?: number;
}

// The rule for times (validate.ts): undefined, null and Infinity for none, negatives as 0.
function validTimeout(options: DnsCallOptions | undefined): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  return checkTimeout(options.timeout, 'options.timeout');
}

function timeoutError(syscall: string, hostname: string): Error {
  return Object.assign(new Error(`${syscall} ETIMEOUT ${hostname}`), { code: 'ETIMEOUT', errno: undefined, syscall, hostname });
}

/**
 * Runs `run` on a resolver of its own (asking the servers setServers() set) and blocks for its
 * answer, at most `timeout` ms; an interrupted call (kill, Timeout, its own timeout) cancels the
 * query, so no socket is left waiting for an answer.
 */
function query<T>(syscall: string, hostname: string, options: DnsCallOptions | undefined, run: (resolver: dns.promises.Resolver) => Promise<T>): T {
  const timeout = validTimeout(options);
  assertCanBlock();
  const resolver = new promises.Resolver();
  resolver.setServers(promises.getServers());
  try {
    return within(timeout, syscall, hostname, run(resolver));
  } finally {
    resolver.cancel();
  }
}

/**
 * Resolves `hostname` the way the operating system does (getaddrinfo: /etc/hosts, then DNS), as
 * `dns.promises.lookup` does: `{ address, family }`, or an array of them with `{ all: true }`.
 * Blocks.
 */
export function lookup(hostname: string, options?: (LookupOneOptions & DnsCallOptions) | number): LookupAddress;
export function lookup(hostname: string, options: LookupAllOptions & DnsCallOptions): LookupAddress[];
export function lookup(hostname: string, options?: (LookupOptions & DnsCallOptions) | number): LookupAddress | LookupAddress[];
export function lookup(hostname: string, options?: (LookupOptions & DnsCallOptions) | number): LookupAddress | LookupAddress[] {
  const timeout = typeof options === 'object' && options !== null ? validTimeout(options) : undefined;
  return within(timeout, 'getaddrinfo', hostname, promises.lookup(hostname, options as LookupOptions));
}

/** Blocks for `promise`, at most `timeout` ms (then Node's ETIMEOUT error). */
function within<T>(timeout: number | undefined, syscall: string, hostname: string, promise: Promise<T>): T {
  if (timeout === undefined) return wait(promise);
  assertCanBlock();
  const waiter = new Waiter<T>();
  promise.then(
    (value) => waiter.switch(value),
    (error: unknown) => waiter.throw(error),
  );
  const timer = setLongTimeout(() => waiter.throw(timeoutError(syscall, hostname)), timeout, undefined);
  try {
    return waiter.get();
  } finally {
    timer.cancel();
  }
}

/** Reverse-resolves `address` and `port` to `{ hostname, service }` (getnameinfo). Blocks. */
export function lookupService(address: string, port: number, options?: DnsCallOptions): { hostname: string; service: string } {
  return within(validTimeout(options), 'getnameinfo', address, promises.lookupService(address, port));
}

/** Queries DNS for records of `rrtype` (default 'A'), as `dns.promises.resolve`. Blocks. */
export function resolve(hostname: string, rrtype?: string, options?: DnsCallOptions): unknown {
  return query(`query${rrtype ?? 'A'}`, hostname, options, (resolver) => (rrtype === undefined ? resolver.resolve(hostname) : resolver.resolve(hostname, rrtype as 'A')));
}

/** IPv4 addresses of `hostname`; with `{ ttl: true }`, `{ address, ttl }` records. Blocks. */
export function resolve4(hostname: string, options?: (ResolveOptions | ResolveWithTtlOptions) & DnsCallOptions): string[] | RecordWithTtl[] {
  return query('queryA', hostname, options, (resolver) => resolver.resolve4(hostname, { ttl: options?.ttl ?? false }));
}

/** IPv6 addresses of `hostname`; with `{ ttl: true }`, `{ address, ttl }` records. Blocks. */
export function resolve6(hostname: string, options?: (ResolveOptions | ResolveWithTtlOptions) & DnsCallOptions): string[] | RecordWithTtl[] {
  return query('queryAaaa', hostname, options, (resolver) => resolver.resolve6(hostname, { ttl: options?.ttl ?? false }));
}

/** Every record of `hostname` (an ANY query). Blocks. */
export function resolveAny(hostname: string, options?: DnsCallOptions): AnyRecord[] {
  return query('queryAny', hostname, options, (resolver) => resolver.resolveAny(hostname));
}

/** CAA records. Blocks. */
export function resolveCaa(hostname: string, options?: DnsCallOptions): CaaRecord[] {
  return query('queryCaa', hostname, options, (resolver) => resolver.resolveCaa(hostname));
}

/** CNAME records. Blocks. */
export function resolveCname(hostname: string, options?: DnsCallOptions): string[] {
  return query('queryCname', hostname, options, (resolver) => resolver.resolveCname(hostname));
}

/** MX records. Blocks. */
export function resolveMx(hostname: string, options?: DnsCallOptions): MxRecord[] {
  return query('queryMx', hostname, options, (resolver) => resolver.resolveMx(hostname));
}

/** NAPTR records. Blocks. */
export function resolveNaptr(hostname: string, options?: DnsCallOptions): NaptrRecord[] {
  return query('queryNaptr', hostname, options, (resolver) => resolver.resolveNaptr(hostname));
}

/** NS records. Blocks. */
export function resolveNs(hostname: string, options?: DnsCallOptions): string[] {
  return query('queryNs', hostname, options, (resolver) => resolver.resolveNs(hostname));
}

/** PTR records. Blocks. */
export function resolvePtr(hostname: string, options?: DnsCallOptions): string[] {
  return query('queryPtr', hostname, options, (resolver) => resolver.resolvePtr(hostname));
}

/** The SOA record. Blocks. */
export function resolveSoa(hostname: string, options?: DnsCallOptions): SoaRecord {
  return query('querySoa', hostname, options, (resolver) => resolver.resolveSoa(hostname));
}

/** SRV records. Blocks. */
export function resolveSrv(hostname: string, options?: DnsCallOptions): SrvRecord[] {
  return query('querySrv', hostname, options, (resolver) => resolver.resolveSrv(hostname));
}

/** TXT records (each an array of chunks). Blocks. */
export function resolveTxt(hostname: string, options?: DnsCallOptions): string[][] {
  return query('queryTxt', hostname, options, (resolver) => resolver.resolveTxt(hostname));
}

/** Host names of `ip` (a PTR query). Blocks. */
export function reverse(ip: string, options?: DnsCallOptions): string[] {
  return query('getHostByAddr', ip, options, (resolver) => resolver.reverse(ip));
}

/** The DNS servers resolve*() ask, as `dns.promises.getServers()`. Never blocks. */
export function getServers(): string[] {
  return promises.getServers();
}

/** Sets the DNS servers resolve*() ask (`'127.0.0.1:5353'` form), as `dns.promises.setServers()`. Never blocks. */
export function setServers(servers: readonly string[]): void {
  promises.setServers(servers);
}
