// The one blocking reader of a Node Readable that greenfiber/net sockets and streamed
// greenfiber/http bodies share: buffering, a high-water pause, one reader at a time, per-call
// timeouts, and what an interrupted read does to the stream.
import type { Readable } from 'node:stream';
import { FiberError } from '../errors';
import { assertCanBlock, Waiter } from '../hub';
import { setLongTimeout, type LongTimer } from '../long-timer';

/** How a StreamReader reports what it cannot do itself. */
export interface StreamReaderOptions {
  /** The stream is paused once this many bytes are buffered and not read, resumed below. */
  highWater: number;
  /** The error a call throws when its own timeout runs out. */
  timeoutError: (what: string, ms: number) => Error;
  /** Maps the stream's 'error' to what a read throws (default: as is). */
  mapError?: (error: unknown) => unknown;
  /**
   * Called when a read is interrupted from outside (a kill or a Timeout, not the read's own
   * timeout): the caller gave up on the stream, so its owner closes it.
   */
  onInterrupted?: () => void;
  /** Names the stream in the one-reader error ("socket", "response body"). */
  noun: string;
}

/**
 * Buffers a Readable's chunks and lets one greenlet at a time block for them. The stream ends
 * at 'end', or at 'close' without an error; its first 'error' is thrown by every later read once
 * the buffered bytes are taken. A read cut by its own timeout leaves the reader usable; a read
 * cut from outside (a kill, a Timeout) calls `onInterrupted` (greenfiber/net and greenfiber/http
 * close the stream there, so an abandoned read leaves no connection behind).
 */
export class StreamReader {
  readonly #stream: Readable;
  readonly #options: StreamReaderOptions;
  /** Chunks received and not yet taken, oldest first; owned by this reader. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #error: unknown = undefined;
  /** Set by drop(): the owner closed the stream; later errors of it are ignored. */
  #dropped = false;
  /** The greenlet parked in a read, while one is. */
  #reader: Waiter<void> | undefined = undefined;

  constructor(stream: Readable, options: StreamReaderOptions) {
    this.#stream = stream;
    this.#options = options;
    stream.on('data', (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.#chunks.push(bytes);
      this.#buffered += bytes.length;
      if (this.#buffered >= options.highWater) stream.pause();
      this.#wake();
    });
    stream.on('end', () => {
      this.#ended = true;
      this.#wake();
    });
    stream.on('error', (error: unknown) => {
      if (this.#dropped) return;
      this.#error ??= options.mapError === undefined ? error : options.mapError(error);
      this.#wake();
    });
    stream.on('close', () => {
      this.#ended = true;
      this.#wake();
    });
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the stream has ended (or closed) and nothing more will come. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The stream's error, once it had one. */
  get error(): unknown {
    return this.#error;
  }

  /** Marks the stream ended and drops what is buffered (the owner closed it). */
  drop(): void {
    this.#dropped = true;
    this.#error = undefined;
    this.#ended = true;
    this.#chunks = [];
    this.#buffered = 0;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#reader;
    if (waiter !== undefined) {
      this.#reader = undefined;
      waiter.switch(undefined);
    }
  }

  /**
   * Blocks until more data, the end or an error arrives, for at most `timeout` ms.
   * @throws FiberError if another greenlet is reading; `timeoutError(what, timeout)` past it.
   */
  #waitForData(timeout: number | undefined, what: string): void {
    if (this.#reader !== undefined) throw new FiberError(`another greenlet is already reading this ${this.#options.noun}; it has one reader at a time`);
    assertCanBlock();
    if (this.#stream.isPaused()) this.#stream.resume();
    const waiter = new Waiter<void>();
    this.#reader = waiter;
    let own: Error | undefined;
    const timer: LongTimer | undefined = timeout === undefined ? undefined : setLongTimeout(() => waiter.throw((own = this.#options.timeoutError(what, timeout))), timeout, undefined);
    try {
      waiter.get();
    } catch (error) {
      if (error !== own) this.#options.onInterrupted?.();
      throw error;
    } finally {
      timer?.cancel();
      if (this.#reader === waiter) this.#reader = undefined;
    }
  }

  /** Takes up to `n` buffered bytes (at least one must be buffered). */
  #take(n: number): Buffer {
    let out: Buffer;
    const first = this.#chunks[0];
    if (first.length > n) {
      out = first.subarray(0, n);
      this.#chunks[0] = first.subarray(n);
    } else if (first.length === n || this.#chunks.length === 1) {
      out = first;
      this.#chunks.shift();
    } else {
      const parts: Buffer[] = [];
      let size = 0;
      while (size < n && this.#chunks.length > 0) {
        const chunk = this.#chunks[0];
        if (size + chunk.length <= n) {
          parts.push(chunk);
          size += chunk.length;
          this.#chunks.shift();
        } else {
          parts.push(chunk.subarray(0, n - size));
          this.#chunks[0] = chunk.subarray(n - size);
          size = n;
        }
      }
      out = Buffer.concat(parts, size);
    }
    this.#buffered -= out.length;
    if (this.#buffered < this.#options.highWater && this.#stream.isPaused() && !this.#ended) this.#stream.resume();
    return out;
  }

  #failIfBroken(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Blocks until data is there and returns up to `max` bytes; null at the end. */
  read(max: number, timeout: number | undefined, what: string): Buffer | null {
    while (this.#buffered === 0) {
      this.#failIfBroken();
      if (this.#ended) return null;
      this.#waitForData(timeout, what);
    }
    return this.#take(max);
  }

  /** Blocks until exactly `n` bytes came; `{ partial }` if the stream ends first. */
  readExactly(n: number, timeout: number | undefined, what: string): Buffer | { partial: Buffer } {
    while (this.#buffered < n) {
      this.#failIfBroken();
      if (this.#ended) return { partial: this.#buffered > 0 ? this.#take(this.#buffered) : Buffer.alloc(0) };
      this.#waitForData(timeout, what);
    }
    return n === 0 ? Buffer.alloc(0) : this.#take(n);
  }

  /** Blocks until a byte `delimiter` came and returns the bytes up to it, included; the rest at the end. */
  readUntil(delimiter: number, timeout: number | undefined, what: string): Buffer {
    let scanned = 0;
    for (;;) {
      let offset = 0;
      for (const chunk of this.#chunks) {
        if (offset + chunk.length > scanned) {
          const index = chunk.indexOf(delimiter, Math.max(0, scanned - offset));
          if (index >= 0) return this.#take(offset + index + 1);
        }
        offset += chunk.length;
      }
      scanned = offset;
      this.#failIfBroken();
      if (this.#ended) return this.#buffered > 0 ? this.#take(this.#buffered) : Buffer.alloc(0);
      this.#waitForData(timeout, what);
    }
  }
}
