// greenfiber/dns: blocking-style name resolution for greenlets (gevent's resolver functions):
// lookup() (getaddrinfo, on libuv's threadpool) and resolve*() (c-ares), each parking only the
// calling greenlet. Errors are Node's own (ENOTFOUND, ECONNREFUSED, ETIMEOUT, ...).
import dns = require('node:dns');
import type { LookupAddress, LookupAllOptions, LookupOneOptions, LookupOptions, MxRecord, NaptrRecord, SoaRecord, SrvRecord, AnyRecord, CaaRecord, RecordWithTtl, ResolveOptions, ResolveWithTtlOptions } from 'node:dns';
import { wait } from '../wait';

const promises = dns.promises;

/**
 * Resolves `hostname` the way the operating system does (getaddrinfo: /etc/hosts, then DNS), as
 * `dns.promises.lookup` does: `{ address, family }`, or an array of them with `{ all: true }`.
 * Blocks.
 */
export function lookup(hostname: string, options?: LookupOneOptions | number): LookupAddress;
export function lookup(hostname: string, options: LookupAllOptions): LookupAddress[];
export function lookup(hostname: string, options?: LookupOptions | number): LookupAddress | LookupAddress[];
export function lookup(hostname: string, options?: LookupOptions | number): LookupAddress | LookupAddress[] {
  return wait(promises.lookup(hostname, options as LookupOptions));
}

/** Reverse-resolves `address` and `port` to `{ hostname, service }` (getnameinfo). Blocks. */
export function lookupService(address: string, port: number): { hostname: string; service: string } {
  return wait(promises.lookupService(address, port));
}

/** Queries DNS for records of `rrtype` (default 'A'), as `dns.promises.resolve`. Blocks. */
export function resolve(hostname: string, rrtype?: string): unknown {
  return wait(rrtype === undefined ? promises.resolve(hostname) : promises.resolve(hostname, rrtype as 'A'));
}

/** IPv4 addresses of `hostname`; with `{ ttl: true }`, `{ address, ttl }` records. Blocks. */
export function resolve4(hostname: string, options?: ResolveOptions | ResolveWithTtlOptions): string[] | RecordWithTtl[] {
  return wait(promises.resolve4(hostname, options as ResolveWithTtlOptions));
}

/** IPv6 addresses of `hostname`; with `{ ttl: true }`, `{ address, ttl }` records. Blocks. */
export function resolve6(hostname: string, options?: ResolveOptions | ResolveWithTtlOptions): string[] | RecordWithTtl[] {
  return wait(promises.resolve6(hostname, options as ResolveWithTtlOptions));
}

/** Every record of `hostname` (an ANY query). Blocks. */
export function resolveAny(hostname: string): AnyRecord[] {
  return wait(promises.resolveAny(hostname));
}

/** CAA records. Blocks. */
export function resolveCaa(hostname: string): CaaRecord[] {
  return wait(promises.resolveCaa(hostname));
}

/** CNAME records. Blocks. */
export function resolveCname(hostname: string): string[] {
  return wait(promises.resolveCname(hostname));
}

/** MX records. Blocks. */
export function resolveMx(hostname: string): MxRecord[] {
  return wait(promises.resolveMx(hostname));
}

/** NAPTR records. Blocks. */
export function resolveNaptr(hostname: string): NaptrRecord[] {
  return wait(promises.resolveNaptr(hostname));
}

/** NS records. Blocks. */
export function resolveNs(hostname: string): string[] {
  return wait(promises.resolveNs(hostname));
}

/** PTR records. Blocks. */
export function resolvePtr(hostname: string): string[] {
  return wait(promises.resolvePtr(hostname));
}

/** The SOA record. Blocks. */
export function resolveSoa(hostname: string): SoaRecord {
  return wait(promises.resolveSoa(hostname));
}

/** SRV records. Blocks. */
export function resolveSrv(hostname: string): SrvRecord[] {
  return wait(promises.resolveSrv(hostname));
}

/** TXT records (each an array of chunks). Blocks. */
export function resolveTxt(hostname: string): string[][] {
  return wait(promises.resolveTxt(hostname));
}

/** Host names of `ip` (a PTR query). Blocks. */
export function reverse(ip: string): string[] {
  return wait(promises.reverse(ip));
}

/** The DNS servers resolve*() ask, as `dns.promises.getServers()`. Never blocks. */
export function getServers(): string[] {
  return promises.getServers();
}

/** Sets the DNS servers resolve*() ask (`'127.0.0.1:5353'` form), as `dns.promises.setServers()`. Never blocks. */
export function setServers(servers: readonly string[]): void {
  promises.setServers(servers);
}
