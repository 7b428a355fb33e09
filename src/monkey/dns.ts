// patchDns(): nothing in Node's `dns` blocks the process (gevent's patch_dns exists because
// Python's getaddrinfo does), so there is nothing to replace; blocking-style lookups are in
// greenfiber/dns. Recorded so that isPatched('dns') and unpatchAll() behave as for the others.
import { patchOnce } from './state';

/** Marks 'dns' as patched; changes nothing in `dns` (every function there is asynchronous already). Idempotent. */
export function patchDns(): void {
  patchOnce('dns', () => {});
}
