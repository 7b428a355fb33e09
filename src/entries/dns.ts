// greenfiber/dns: blocking-style name resolution for greenlets.
export * from '../green/dns';
