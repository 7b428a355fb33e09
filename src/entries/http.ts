// greenfiber/http: a blocking-style HTTP client for greenlets, on undici.
export * from '../green/http';
